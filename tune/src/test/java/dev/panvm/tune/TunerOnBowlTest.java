package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole method on a simulated workload with a planted optimum ({@link Bowl}): filter, then
 * search 150 steps, for ten seeds. Judged by the noiseless run time of the best setting found.
 */
class TunerOnBowlTest {
    private static final int SEEDS = 10;
    private static final int STEPS = 150;
    private static final InstantSource NEVER_LATE = InstantSource.fixed(Instant.EPOCH);
    private static final double DEFAULT_TRUTH = Bowl.truth(SearchSpace.defaults(Bowl.KNOBS));

    @Test
    void qLearningReachesTheRegionMuchBetterThanTheDefault() throws Exception {
        // STUN's "much better" region: more than 20 % below the default, here within about
        // 5 grid steps of the planted optimum
        List<String> missed = new ArrayList<>();
        for (long seed = 0; seed < SEEDS; seed++) {
            FilterResult filter = KnobFilter.stun().filter(Bowl.KNOBS, new Bowl(seed, 0.05, 3));
            SearchResult result = Tuner.start(filter, new Bowl(1000 + seed, 0.05, 3), TunerSettings.defaults(seed))
                    .run(Budget.steps(STEPS), NEVER_LATE, p -> { });
            assertEquals(STEPS + 1, result.history().size());
            double best = Bowl.truth(result.best().settings());
            assertTrue(best < DEFAULT_TRUTH, "seed " + seed + ": best " + best + " is no better than the default " + DEFAULT_TRUTH);
            if (best >= 0.8 * DEFAULT_TRUTH) {
                missed.add("seed " + seed + ": best " + best + " at " + result.best().settings());
            }
        }
        assertTrue(missed.size() <= 2, "default " + DEFAULT_TRUTH + ", optimum " + Bowl.OPTIMUM + "; missed in " + missed);
    }

    @Test
    void randomSearchRunsTheSameBudgetIntoTheSameHistory() throws Exception {
        for (long seed = 0; seed < SEEDS; seed++) {
            FilterResult filter = KnobFilter.stun().filter(Bowl.KNOBS, new Bowl(seed, 0.05, 3));
            List<Progress> seen = new ArrayList<>();
            SearchResult result = new RandomSearch(filter, new Bowl(1000 + seed, 0.05, 3), StunReward.STUN, seed)
                    .run(Budget.steps(STEPS), NEVER_LATE, seen::add);
            assertEquals(STEPS + 1, result.history().size(), "seed " + seed);
            assertEquals(STEPS, seen.size(), "seed " + seed);
            assertEquals(filter.atDefault(), result.history().getFirst().measurement(), "seed " + seed);
            for (Step step : result.history().subList(1, result.history().size())) {
                Map<String, Long> s = step.settings();
                assertEquals(Bowl.MIGRATION.defaultValue(), s.get(Bowl.MIGRATION.name()), "seed " + seed);
                long latency = s.get(Bowl.LATENCY.name());
                assertEquals(latency, Bowl.LATENCY.value(Bowl.LATENCY.indexOf(latency)), "seed " + seed + ": on the grid");
                double previous = result.history().get(step.step() - 1).mean();
                assertEquals(StunReward.STUN.reward(step.mean(), filter.atDefault().mean(), previous), step.reward(),
                        "seed " + seed + " step " + step.step());
            }
            assertTrue(Bowl.truth(result.best().settings()) < DEFAULT_TRUTH, "seed " + seed);
        }
    }
}
