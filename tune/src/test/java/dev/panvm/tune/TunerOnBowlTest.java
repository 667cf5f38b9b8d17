package dev.panvm.tune;

import dev.panvm.tune.cli.BestSetting;
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
 * search 150 steps, over fixed seeds. Judged by the noiseless run time (true cost) of the best
 * setting found.
 */
class TunerOnBowlTest {
    private static final int SEEDS = 10;
    private static final int STEPS = 150;
    private static final InstantSource NEVER_LATE = InstantSource.fixed(Instant.EPOCH);
    private static final double DEFAULT_TRUTH = Bowl.truth(SearchSpace.defaults(Bowl.KNOBS));

    @Test
    void qLearningReachesTheRegionMuchBetterThanTheDefault() throws Exception {
        qLearningReachesTheRegionMuchBetterThanTheDefault(TunerSettings.Reference.STUN);
        qLearningReachesTheRegionMuchBetterThanTheDefault(TunerSettings.Reference.REBASED);
    }

    private static void qLearningReachesTheRegionMuchBetterThanTheDefault(TunerSettings.Reference reference) throws Exception {
        // STUN's "much better" region: more than 20 % below the default, here within about
        // 5 grid steps of the planted optimum
        List<String> missed = new ArrayList<>();
        for (long seed = 0; seed < SEEDS; seed++) {
            FilterResult filter = KnobFilter.stun().filter(Bowl.KNOBS, new Bowl(seed, 0.05, 3));
            SearchResult result = Tuner.start(filter, new Bowl(1000 + seed, 0.05, 3), TunerSettings.of(reference, seed))
                    .run(Budget.steps(STEPS), NEVER_LATE, p -> { });
            assertEquals(STEPS + 1, result.history().size());
            double best = Bowl.truth(result.best().settings());
            assertTrue(best < DEFAULT_TRUTH, "seed " + seed + ": best " + best + " is no better than the default " + DEFAULT_TRUTH);
            if (best >= 0.8 * DEFAULT_TRUTH) {
                missed.add("seed " + seed + ": best " + best + " at " + result.best().settings());
            }
        }
        assertTrue(missed.size() <= 2, reference + ": default " + DEFAULT_TRUTH + ", optimum " + Bowl.OPTIMUM + "; missed in " + missed);
    }

    /**
     * The test: with the same budget (the filter's 7 measurements, then 150 steps of 3 runs
     * each), over 20 fixed seeds, the default tuner (rebased reward) ends with a better setting on
     * average than random search, judged both by the lowest step mean ({@link SearchResult#best()})
     * and by the pooled choice {@code panvm tune} reports ({@link BestSetting}); and it gets close
     * to the planted optimum in every seed.
     *
     * <p>"Close" is a true cost at most 5 % above the optimum (105: within about 2 grid steps of it,
     * e.g. one step along one knob and two along the other), and at most 2 % above on average. The
     * noise sets that bound: a step's mean of 3 runs with 5 % noise has a standard deviation of
     * about 2.9 %, so settings within a few percent of the optimum cannot be ranked by a handful of
     * measurements, by any search. Random search's worst seed here ends at 109.
     *
     * <p>Measured over 200 seeds (0..199), true cost of the best, mean ± sd: rebased 101.25 ± 1.20,
     * random search 102.21 ± 1.80, STUN's exact reward 114.23 ± 14.59; pooled choice 100.89 ± 0.86,
     * 102.72 ± 2.25 and 114.55 ± 15.23. Over the 20 seeds here: 101.25 ± 1.21 against 101.85 ± 1.98
     * (pooled 100.85 ± 0.75 against 102.55 ± 2.26).
     */
    @Test
    void theDefaultTunerBeatsRandomSearchOnAverageAndGetsCloseToTheOptimum() throws Exception {
        int seeds = 20;
        double q = 0;
        double qPooled = 0;
        double random = 0;
        double randomPooled = 0;
        List<String> far = new ArrayList<>();
        List<String> late = new ArrayList<>();
        for (long seed = 0; seed < seeds; seed++) {
            FilterResult filter = KnobFilter.stun().filter(Bowl.KNOBS, new Bowl(seed, 0.05, 3));
            SearchResult learned = Tuner.start(filter, new Bowl(1000 + seed, 0.05, 3), TunerSettings.defaults(seed))
                    .run(Budget.steps(STEPS), NEVER_LATE, p -> { });
            SearchResult drawn = new RandomSearch(filter, new Bowl(1000 + seed, 0.05, 3), StunReward.STUN, seed)
                    .run(Budget.steps(STEPS), NEVER_LATE, p -> { });
            double best = Bowl.truth(learned.best().settings());
            q += best / seeds;
            qPooled += Bowl.truth(BestSetting.of(learned.history()).settings()) / seeds;
            random += Bowl.truth(drawn.best().settings()) / seeds;
            randomPooled += Bowl.truth(BestSetting.of(drawn.history()).settings()) / seeds;
            if (best > 1.05 * Bowl.OPTIMUM) {
                far.add("seed " + seed + ": " + best + " at " + learned.best().settings());
            }
            // when it first measured a setting within 4 % (2 grid steps) of the optimum; over 200
            // seeds the latest was step 112, the median step 44
            int first = learned.history().stream().filter(s -> Bowl.truth(s.settings()) <= 1.04 * Bowl.OPTIMUM + 1e-9)
                    .mapToInt(Step::step).findFirst().orElse(Integer.MAX_VALUE);
            if (first > 120) {
                late.add("seed " + seed + ": step " + first);
            }
        }
        String figures = String.format(java.util.Locale.ROOT, "mean true cost of the best: Q-learning %.2f (pooled %.2f), "
                + "random search %.2f (pooled %.2f), optimum %.0f", q, qPooled, random, randomPooled, Bowl.OPTIMUM);
        assertTrue(q < random, figures);
        assertTrue(qPooled < randomPooled, figures);
        assertTrue(q <= 1.02 * Bowl.OPTIMUM && qPooled <= 1.02 * Bowl.OPTIMUM, figures);
        assertTrue(far.isEmpty(), "more than 5 % above the optimum: " + far);
        assertTrue(late.isEmpty(), "not within 4 % of the optimum by step 120: " + late);
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
