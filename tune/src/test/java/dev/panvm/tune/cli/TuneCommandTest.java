package dev.panvm.tune.cli;

import dev.panvm.tune.FilterResult;
import dev.panvm.tune.Knob;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.Sensitivity;
import dev.panvm.tune.Step;
import dev.panvm.tune.TunerSettings;
import dev.panvm.tune.TunerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command's input checks, all of which come before a VM boots (no KVM needed). */
class TuneCommandTest {
    @TempDir
    Path dir;

    private record Result(int status, String out, String err) {
    }

    private Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = TuneCommand.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(status, out.toString(), err.toString());
    }

    private void assertUsageError(String expected, String... args) {
        Result r = run(args);
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in:\n" + r.err());
    }

    @Test
    void helpDescribesTheCommand() {
        Result r = run("--help");
        assertEquals(0, r.status());
        for (String word : List.of("--workload", "--budget", "--steps", "--state", "--out", "--cpus", "--seed", "--param",
                "report.md", "learning-curve.png", "Q-learning", "random search", "20 %", "--reward", "stun|rebased",
                "rebased (the default)", "as in the STUN paper", "rebased is the default because")) {
            assertTrue(r.out().contains(word), word + " missing from:\n" + r.out());
        }
    }

    @Test
    void badInputIsRefusedWithAReason() {
        String out = dir.resolve("out").toString();
        assertUsageError("unknown workload 'kmalloc'", "--workload", "kmalloc", "--steps", "3", "--out", out);
        assertUsageError("bad --param 'groups'", "--workload", "hackbench", "--param", "groups", "--steps", "3", "--out", out);
        assertUsageError("hackbench takes groups, loops, pipe_size", "--workload", "hackbench", "--param", "ops=5", "--steps", "3", "--out", out);
        assertUsageError("cannot read budget '20 minutes'", "--workload", "hackbench", "--budget", "20 minutes", "--out", out);
        assertUsageError("give a budget", "--workload", "pipe", "--out", out);
        assertUsageError("--steps must be at least 1", "--workload", "pipe", "--steps", "0", "--out", out);
        assertUsageError("--cpus must be in 1..64", "--workload", "pipe", "--steps", "2", "--cpus", "0", "--out", out);
        assertUsageError("--repeats must be in 2..1000", "--workload", "pipe", "--steps", "2", "--repeats", "1", "--out", out);
        assertUsageError("--keep nonsense", "--workload", "pipe", "--steps", "2", "--keep", "nonsense", "--out", out);
        assertUsageError("no ferrite image at", "--workload", "pipe", "--steps", "2", "--out", out,
                "--kernel", dir.resolve("missing").toString());
        assertUsageError("Missing required option: '--workload=NAME'", "--steps", "2");
        assertUsageError("--reward best: give stun or rebased", "--workload", "pipe", "--steps", "2", "--reward", "best", "--out", out);
    }

    @Test
    void aStateFileOfAnotherWorkloadIsRefused() throws Exception {
        Knob k = new Knob("sched_nr_migrate", 0, 256, 32, 11);
        Measurement m = Measurement.of(1, 2, 3);
        FilterResult filter = new FilterResult(List.of(k), m, List.of(new Sensitivity(k, m, m, m, 0, false)));
        Path file = dir.resolve("state.json");
        new TuneState(TuneState.FORMAT, "pipe ops=1000 on panvm, 2 vCPUs", 1, m, 3, filter, null, List.of(), 0, List.of()).save(file);
        assertEquals("pipe ops=1000 on panvm, 2 vCPUs", TuneState.load(file).workload());
        assertUsageError("tunes 'pipe ops=1000 on panvm, 2 vCPUs', not 'hackbench groups=2 on panvm, 2 vCPUs'",
                "--workload", "hackbench", "--param", "groups=2", "--steps", "2", "--state", file.toString());
        // the same workload with other vCPUs is another workload too
        assertUsageError("not 'pipe ops=1000 on panvm, 1 vCPUs'",
                "--workload", "pipe", "--param", "ops=1000", "--cpus", "1", "--steps", "2", "--state", file.toString());
        Files.writeString(file, "{\"not\": \"a state\"}");
        assertUsageError("is not a panvm tune state file", "--workload", "pipe", "--steps", "2", "--state", file.toString());
    }

    @Test
    void rewardsByName() {
        assertEquals(TunerSettings.Reference.REBASED, TuneCommand.parseReward(null), "the default");
        assertEquals(TunerSettings.Reference.STUN, TuneCommand.parseReward("stun"));
        assertEquals(TunerSettings.Reference.REBASED, TuneCommand.parseReward("Rebased"));
    }

    @Test
    void aStateFileKeepsTheRewardItWasStartedWith() throws Exception {
        Knob k = new Knob("sched_nr_migrate", 0, 256, 32, 11);
        Measurement m = Measurement.of(1, 2, 3);
        FilterResult filter = new FilterResult(List.of(k), m, List.of(new Sensitivity(k, m, m, m, 0.5, true)));
        String workload = "pipe ops=1000 on panvm, 2 vCPUs";
        TunerState q = new TunerState(TunerState.FORMAT, workload, List.of(k), List.of(k.name()), TunerSettings.defaults(1), 0,
                List.of(3), List.of(new Step(0, Map.of(k.name(), 32L), m, 0, m.mean())), List.of());
        Path file = dir.resolve("state.json");
        new TuneState(TuneState.FORMAT, workload, 1, m, 3, filter, q, List.of(), 0, List.of()).save(file);
        assertUsageError(file + " was started with --reward rebased, not stun",
                "--workload", "pipe", "--param", "ops=1000", "--steps", "2", "--state", file.toString(), "--reward", "stun");
    }

    @Test
    void budgetsReadAsHoursMinutesSeconds() {
        assertEquals(Duration.ofMinutes(20), TuneCommand.parseDuration("20m"));
        assertEquals(Duration.ofSeconds(90), TuneCommand.parseDuration("90s"));
        assertEquals(Duration.ofMinutes(90), TuneCommand.parseDuration("1h30m"));
        for (String bad : List.of("", "0m", "20", "m", "20x", "-5m", "1.5h")) {
            assertThrows(IllegalArgumentException.class, () -> TuneCommand.parseDuration(bad), bad);
        }
    }

    @Test
    void humanDurations() {
        assertEquals("45s", TuneCommand.human(Duration.ofSeconds(45)));
        assertEquals("3m05s", TuneCommand.human(Duration.ofSeconds(185)));
        assertEquals("1h30m", TuneCommand.human(Duration.ofMinutes(90)));
        assertEquals("0s", TuneCommand.human(Duration.ofSeconds(-3)));
    }
}
