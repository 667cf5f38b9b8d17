package dev.panvm.tune;

import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * A seeded random generator that counts its draws, so a saved search continues with exactly the
 * numbers an uninterrupted one would have drawn: seed and count are saved, and a new generator
 * replays the count. Every method of {@link RandomGenerator} draws through {@link #nextLong()}.
 */
final class ReplayableRandom implements RandomGenerator {
    private final SplittableRandom random;
    private long draws;

    /** A generator that has already drawn {@code draws} numbers from {@code seed}. */
    ReplayableRandom(long seed, long draws) {
        this.random = new SplittableRandom(seed);
        for (long i = 0; i < draws; i++) {
            random.nextLong();
        }
        this.draws = draws;
    }

    @Override
    public long nextLong() {
        draws++;
        return random.nextLong();
    }

    long draws() {
        return draws;
    }
}
