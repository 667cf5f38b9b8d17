package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The rebased reward ({@link TunerSettings.Reference#REBASED}) against STUN's on a small known
 * case: one knob with two grid values, so from either value the only action is to move to the
 * other and the path is fixed; the results come from a script, by call, whatever the setting.
 */
class RebasedRewardTest {
    private static final InstantSource NEVER_LATE = InstantSource.fixed(Instant.EPOCH);
    private static final Knob KNOB = new Knob("sched_nr_migrate", 0, 10, 0, 2);
    /** The default's result, then steps 1 to 7. */
    private static final double DEFAULT = 100;
    private static final double[] SCRIPT = {90, 95, 93, 91, 85, 60, 75};

    private static final class Script implements Objective {
        private int call;

        @Override
        public Measurement measure(Map<String, Long> settings) {
            return Measurement.of(SCRIPT[call++]);
        }

        @Override
        public String workload() {
            return "script";
        }
    }

    private static SearchResult run(TunerSettings settings) throws Exception {
        Measurement atDefault = Measurement.of(DEFAULT);
        FilterResult filter = new FilterResult(List.of(KNOB), atDefault,
                List.of(new Sensitivity(KNOB, atDefault, atDefault, atDefault, 0.5, true)));
        return Tuner.start(filter, new Script(), settings).run(Budget.steps(SCRIPT.length), NEVER_LATE, p -> { });
    }

    private static List<Double> rewards(SearchResult result) {
        return result.history().subList(1, result.history().size()).stream().map(Step::reward).toList();
    }

    private static List<Long> values(SearchResult result) {
        return result.history().subList(1, result.history().size()).stream().map(s -> s.settings().get(KNOB.name())).toList();
    }

    @Test
    void stunRewardsAgainstTheDefaultAndThePreviousStep() throws Exception {
        SearchResult r = run(TunerSettings.stun(1));
        // 90: within 20 % of 100, better than 100; 95: not better than 90; 93 < 95; 91 < 93; 85 < 91;
        // 60 and 75: more than 20 % below the default
        assertEquals(List.of(100.0, 0.0, 100.0, 100.0, 100.0, 200.0, 200.0), rewards(r));
        assertEquals(List.of(10L, 0L, 10L, 0L, 10L, 0L, 10L), values(r), "to and fro, never re-based");
    }

    @Test
    void rebasedRoundsStartFromTheBestAndRewardAgainstIt() throws Exception {
        SearchResult r = run(new TunerSettings(0.5, 0.9, 0.3, 1, StunReward.STUN, 2));
        assertEquals(List.of(
                100.0,  // round 1, against the default 100: 90 is better than the previous 100
                0.0,    // 95 is no better than 90
                0.0,    // round 2 starts from step 1 (90, the best): 93 is within 20 % of 90 and no better than
                        // 90, the result its action started from (STUN's previous step, 95, would pay +100)
                100.0,  // 91 < 93
                100.0,  // round 3 starts from step 1 again (90): 85 < 90, but not 20 % better
                200.0,  // 60 is more than 20 % below 90
                -50.0), // round 4 starts from step 6 (60): 75 is more than 20 % above it (STUN: +200 against 100)
                rewards(r));
        // round starts move from the best setting so far: steps 3, 5 and 7 leave 10, where steps 1 and 6 measured
        assertEquals(List.of(10L, 0L, 0L, 10L, 0L, 10L, 0L), values(r));
    }

    @Test
    void aRoundStartsWithAFreshTable() throws Exception {
        Measurement atDefault = Measurement.of(DEFAULT);
        FilterResult filter = new FilterResult(List.of(KNOB), atDefault,
                List.of(new Sensitivity(KNOB, atDefault, atDefault, atDefault, 0.5, true)));
        Tuner tuner = Tuner.start(filter, new Script(), new TunerSettings(0.5, 0.9, 0.3, 1, StunReward.STUN, 2));
        tuner.run(Budget.steps(2), NEVER_LATE, p -> { });
        assertEquals(List.of(List.of(0), List.of(1)), tuner.state().q().stream().map(QEntry::state).toList());
        tuner.run(Budget.steps(1), NEVER_LATE, p -> { });
        // step 3 updated only the row of the state it left, the best one (index 1), in a new table
        assertEquals(List.of(List.of(1)), tuner.state().q().stream().map(QEntry::state).toList());
        assertEquals(List.of(0.0, 0.0), tuner.state().q().getFirst().values(), "0 reward, into an unvisited state");
    }
}
