package dev.panvm.tune;

import java.util.SplittableRandom;

/**
 * The baseline a learned search must beat: each step measures a grid point drawn uniformly and
 * independently of the others, with the same budget, objective, reward and history as {@link Tuner}.
 */
public final class RandomSearch extends Search {
    private final SplittableRandom random;

    public RandomSearch(FilterResult filter, Objective objective, StunReward reward, long seed) {
        super(filter.space(), objective, reward, History.ofDefaults(filter));
        this.random = new SplittableRandom(seed);
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
