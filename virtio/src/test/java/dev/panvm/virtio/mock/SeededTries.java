package dev.panvm.virtio.mock;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * A small property-test runner: a property runs against many pseudo-random cases, each derived
 * from a fixed seed and its try number, so every run checks the same cases and a failure names
 * the one case that reproduces it. Bounded twice: by the number of tries and by a time budget
 * (a slow machine runs fewer tries instead of timing out).
 *
 * <p>{@code -Dvirtio.tries=N} and {@code -Dvirtio.seed=S} change the defaults, e.g. for a long
 * fuzzing run; {@code -Dvirtio.try=K} runs only case K (to reproduce a failure).
 */
public final class SeededTries {
    private SeededTries() {
    }

    /** Runs {@code property} up to {@code tries} times within {@code budget}; returns the number of tries run. */
    public static int run(long seed, int tries, Duration budget, Consumer<SplittableRandom> property) {
        long s = Long.getLong("virtio.seed", seed);
        int n = Integer.getInteger("virtio.tries", tries);
        Integer only = Integer.getInteger("virtio.try");
        long deadline = System.nanoTime() + budget.toNanos();
        int done = 0;
        for (int t = only != null ? only : 0; t < (only != null ? only + 1 : n); t++) {
            SplittableRandom random = new SplittableRandom(s * 0x9E3779B97F4A7C15L + t);
            try {
                property.accept(random);
            } catch (Throwable e) {
                throw new AssertionError("property failed on try " + t + " of seed " + s
                        + " (reproduce with -Dvirtio.seed=" + s + " -Dvirtio.try=" + t + "): " + e, e);
            }
            done++;
            if (System.nanoTime() > deadline) {
                break;
            }
        }
        return done;
    }
}
