package dev.panvm.tune;

import java.util.List;

/**
 * The baseline a learned search must beat: each step measures a grid point drawn uniformly and
 * independently of the others, with the same budget, objective, reward and history as {@link Tuner}.
 */
public final class RandomSearch extends Search {
    private final ReplayableRandom random;

    public RandomSearch(FilterResult filter, Objective objective, StunReward reward, long seed) {
        super(filter.space(), objective, reward, History.ofDefaults(filter));
        this.random = new ReplayableRandom(seed, 0);
    }

    /**
     * Continues a random search that took the steps {@code history} (step 0 first) and drew
     * {@code draws} numbers from {@code seed}: the next draws are the ones an uninterrupted search
     * would have made.
     */
    public RandomSearch(FilterResult filter, Objective objective, StunReward reward, long seed,
                        List<Step> history, long draws) {
        super(filter.space(), objective, reward, new History(history));
        this.random = new ReplayableRandom(seed, draws);
    }

    /** Random numbers drawn so far, to save with the history. */
    public long draws() {
        return random.draws();
    }

    @Override
    int[] propose() {
        return space.kept().stream().mapToInt(k -> random.nextInt(k.steps())).toArray();
    }

    @Override
    void learn(double reward) {
        // nothing to learn: the next draw ignores this one
    }
}
