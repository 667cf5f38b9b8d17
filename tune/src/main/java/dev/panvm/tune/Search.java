package dev.panvm.tune;

import java.time.InstantSource;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The loop every search shares: pick a point, measure it, reward it with STUN's reward (against a
 * reference, by default the default's result, and the previous result, by default the previous
 * step's), record it, report progress, until the budget is spent. The searches differ in how they
 * pick, what they learn and, for the {@linkplain TunerSettings.Reference#REBASED rebased} tuner,
 * what the reward compares against.
 */
public abstract sealed class Search permits Tuner, RandomSearch {
    final SearchSpace space;
    final Objective objective;
    final StunReward reward;
    final History history;

    Search(SearchSpace space, Objective objective, StunReward reward, History history) {
        this.space = space;
        this.objective = objective;
        this.reward = reward;
        this.history = history;
    }

    /**
     * Takes steps until {@code budget} is spent, telling {@code listener} after each, and returns
     * the whole history (including earlier calls and, for a resumed tuner, earlier processes).
     */
    public SearchResult run(Budget budget, InstantSource clock, Consumer<Progress> listener) throws Exception {
        for (int taken = 0; !budget.exhausted(taken, clock.instant()); taken++) {
            int[] point = propose();
            Map<String, Long> settings = space.settings(point);
            Measurement measurement = objective.measure(settings);
            double r = reward.reward(measurement.mean(), reference(), previous());
            Step step = history.add(settings, measurement, r);
            learn(r);
            listener.accept(new Progress(step, history.best(), budget.timeLeft(clock.instant())));
        }
        return history.result();
    }

    /** The steps taken so far, step 0 (the default) first. */
    public SearchResult result() {
        return history.result();
    }

    /** What the next step is "much better" or "much worse" than: STUN's default result. */
    double reference() {
        return history.defaults().mean();
    }

    /** What the next step is "better than the previous step" than: the last step's result. */
    double previous() {
        return history.last().mean();
    }

    /** The grid point to measure next. */
    abstract int[] propose();

    /** Takes in the reward of the point {@link #propose()} returned last. */
    abstract void learn(double reward) throws Exception;
}
