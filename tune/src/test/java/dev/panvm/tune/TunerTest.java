package dev.panvm.tune;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TunerTest {
    private static final InstantSource NEVER_LATE = InstantSource.fixed(Instant.EPOCH);

    private static FilterResult filter() throws Exception {
        return KnobFilter.stun().filter(Bowl.KNOBS, new Bowl(99, 0.05, 3));
    }

    @Test
    void aResumedTunerContinuesExactlyAsAStraightRun(@TempDir Path dir) throws Exception {
        FilterResult filter = filter();
        for (long seed = 0; seed < 5; seed++) {
            // both rewards; interrupted at the end of a round of the rebased one (12) and inside one (13)
            for (TunerSettings settings : List.of(TunerSettings.defaults(seed), TunerSettings.stun(seed))) {
                for (int split : List.of(12, 13)) {
                    String what = "seed " + seed + ", " + settings.reference() + ", split at " + split;
                    Tuner straight = Tuner.start(filter, new Bowl(seed, 0.05, 3), settings);
                    SearchResult expected = straight.run(Budget.steps(30), NEVER_LATE, p -> { });

                    // the same objective goes on measuring across the interruption, as a long-lived VM would
                    Bowl bowl = new Bowl(seed, 0.05, 3);
                    Path file = dir.resolve("tuner-" + seed + "-" + settings.reference() + "-" + split + ".json");
                    Tuner first = Tuner.start(filter, bowl, settings).checkpointTo(file);
                    first.run(Budget.steps(split), NEVER_LATE, p -> { });
                    Tuner resumed = Tuner.resume(file, Bowl.KNOBS, bowl);
                    assertEquals(first.state(), resumed.state(), what + ": the file holds the whole state");
                    SearchResult continued = resumed.run(Budget.steps(30 - split), NEVER_LATE, p -> { });

                    assertEquals(expected, continued, what);
                    assertEquals(straight.state(), resumed.state(), what);
                    assertEquals(straight.state(), TunerState.load(file), what + ": checkpointed after the last step");
                }
            }
        }
    }

    @Test
    void aFormatOneStateIsReadAsStunsRewardAndResumesAsItWouldHaveRun(@TempDir Path dir) throws Exception {
        // format 1 had no choice of reward: it was STUN's, which format 2 writes as 0 steps per round
        FilterResult filter = filter();
        Tuner straight = Tuner.start(filter, new Bowl(4, 0.05, 3), TunerSettings.stun(4));
        SearchResult expected = straight.run(Budget.steps(20), NEVER_LATE, p -> { });

        Bowl bowl = new Bowl(4, 0.05, 3);
        Path file = dir.resolve("state.json");
        Tuner first = Tuner.start(filter, bowl, TunerSettings.stun(4)).checkpointTo(file);
        first.run(Budget.steps(8), NEVER_LATE, p -> { });
        String saved = Files.readString(file);
        assertTrue(saved.contains("\"format\" : 2") && saved.contains("\"roundSteps\" : 0"), saved);
        Files.writeString(file, saved.replace("\"format\" : 2", "\"format\" : 1").replaceAll(",\\s*\"roundSteps\" : 0", ""));
        assertTrue(!Files.readString(file).contains("roundSteps"), "written as format 1 was");

        assertEquals(first.state(), TunerState.load(file));
        Tuner resumed = Tuner.resume(file, Bowl.KNOBS, bowl);
        assertEquals(expected, resumed.run(Budget.steps(12), NEVER_LATE, p -> { }));
        assertEquals(TunerState.FORMAT, TunerState.load(file).format(), "checkpointed in the current format");
    }

    @Test
    void anUnknownStateFormatIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("state.json");
        Tuner.start(filter(), new Bowl(1, 0.05, 3), TunerSettings.defaults(1)).checkpointTo(file)
                .run(Budget.steps(2), NEVER_LATE, p -> { });
        Files.writeString(file, Files.readString(file).replace("\"format\" : 2", "\"format\" : 3"));
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> TunerState.load(file));
        assertTrue(e.getMessage().contains("tuner state format 3, this tuner reads 1 and 2"), e.getMessage());
    }

    @Test
    void theStateFileSaysWhatItTunes(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("state.json");
        Tuner tuner = Tuner.start(filter(), new Bowl(1, 0.05, 3), TunerSettings.defaults(1)).checkpointTo(file);
        tuner.run(Budget.steps(3), NEVER_LATE, p -> { });
        TunerState state = TunerState.load(file);
        assertEquals("bowl sigma=0.05 samples=3", state.workload());
        assertEquals(List.of("sched_latency_ns", "sched_min_granularity_ns"), state.kept());
        assertEquals(4, state.history().size(), "the default's step 0 and three steps");
        assertEquals(3, state.history().getLast().step());
        assertTrue(state.draws() >= 6, "two draws a step at least: " + state.draws());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void refusesAStateWrittenForAnotherWorkloadOrOtherKnobs(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("state.json");
        Tuner.start(filter(), new Bowl(1, 0.05, 3), TunerSettings.defaults(1)).checkpointTo(file)
                .run(Budget.steps(2), NEVER_LATE, p -> { });

        IllegalArgumentException workload = assertThrows(IllegalArgumentException.class,
                () -> Tuner.resume(file, Bowl.KNOBS, new Bowl(1, 0.10, 3)));
        assertTrue(workload.getMessage().contains("workload 'bowl sigma=0.05 samples=3', not 'bowl sigma=0.1 samples=3'"),
                workload.getMessage());

        List<Knob> wider = List.of(Bowl.LATENCY, Bowl.GRANULARITY, new Knob("sched_migration_cost_ns", 0, 9_000_000, 500_000, 11));
        IllegalArgumentException knobs = assertThrows(IllegalArgumentException.class,
                () -> Tuner.resume(file, wider, new Bowl(1, 0.05, 3)));
        assertTrue(knobs.getMessage().contains("tunes knobs"), knobs.getMessage());
    }

    @Test
    void aDeadlineEndsTheRunAndProgressCountsDown() throws Exception {
        // each measurement takes 10 s of a simulated clock
        Instant start = Instant.parse("2026-12-03T12:00:00Z");
        Instant[] now = {start};
        Bowl bowl = new Bowl(3, 0.05, 3);
        Objective slow = new Objective() {
            @Override
            public Measurement measure(Map<String, Long> settings) {
                now[0] = now[0].plusSeconds(10);
                return bowl.measure(settings);
            }

            @Override
            public String workload() {
                return bowl.workload();
            }
        };
        List<Progress> seen = new ArrayList<>();
        SearchResult result = Tuner.start(filter(), slow, TunerSettings.defaults(3))
                .run(Budget.until(start.plusSeconds(35)), () -> now[0], seen::add);
        // steps start at 0, 10, 20 and 30 s; none at 40 s
        assertEquals(List.of(1, 2, 3, 4), seen.stream().map(Progress::step).toList());
        assertEquals(List.of(Duration.ofSeconds(25), Duration.ofSeconds(15), Duration.ofSeconds(5), Duration.ZERO),
                seen.stream().map(p -> p.timeLeft().orElseThrow()).toList());
        assertEquals(5, result.history().size());
        assertEquals(Optional.empty(), Budget.steps(3).timeLeft(start));
    }

    @Test
    void bestSoFarIsTheLowestMeanSeen() throws Exception {
        for (TunerSettings settings : List.of(TunerSettings.defaults(5), TunerSettings.stun(5))) {
            bestSoFarIsTheLowestMeanSeen(settings);
        }
    }

    private static void bestSoFarIsTheLowestMeanSeen(TunerSettings settings) throws Exception {
        FilterResult filter = filter();
        List<Progress> seen = new ArrayList<>();
        SearchResult result = Tuner.start(filter, new Bowl(5, 0.05, 3), settings)
                .run(Budget.steps(40), NEVER_LATE, seen::add);
        List<Step> history = result.history();
        assertEquals(filter.atDefault(), history.getFirst().measurement(), "step 0 is the filter's default");
        double lowest = Double.POSITIVE_INFINITY;
        for (int i = 0; i < history.size(); i++) {
            Step step = history.get(i);
            assertEquals(i, step.step());
            lowest = Math.min(lowest, step.mean());
            assertEquals(lowest, step.bestMean(), "step " + i);
            if (i > 0) {
                assertEquals(lowest, seen.get(i - 1).best().mean(), "step " + i);
                // the default's settings of the filtered-out knob never change
                assertEquals(Bowl.MIGRATION.defaultValue(), step.settings().get(Bowl.MIGRATION.name()));
                // a round of the rebased reward starts from the best step so far, not the previous one
                int rounds = settings.roundSteps();
                Step from = rounds > 0 && i > 1 && (i - 1) % rounds == 0
                        ? new SearchResult(history.subList(0, i)).best() : history.get(i - 1);
                assertEquals(1, movedKnobs(from, step), settings.reference() + ": one knob, one grid step from step " + from.step());
            }
        }
        assertEquals(lowest, result.best().mean());
        assertNotEquals(history.getFirst(), result.best(), "40 steps of a bowl beat its default");
    }

    /** How many grid steps apart two steps' kept knobs are (the default, which may lie off the grid, at its nearest grid point). */
    private static int movedKnobs(Step before, Step after) {
        int moved = 0;
        for (Knob k : List.of(Bowl.LATENCY, Bowl.GRANULARITY)) {
            int distance = Math.abs(k.indexOf(before.settings().get(k.name())) - k.indexOf(after.settings().get(k.name())));
            assertTrue(distance <= 1, k.name() + " moved " + distance + " steps");
            moved += distance;
        }
        return moved;
    }
}
