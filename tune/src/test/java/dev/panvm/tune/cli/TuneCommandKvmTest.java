package dev.panvm.tune.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code panvm tune} end to end on a real ferrite VM, with a tiny budget: pilot, filter, two
 * Q-learning and two random-search steps, the final comparison and the report; then a second
 * invocation resumes from the state file and takes more steps. Skips without a usable /dev/kvm,
 * as vmm's KVM tests do; fails when ferrite is not built. Asserts on files and counts, never on
 * timing.
 */
class TuneCommandKvmTest {
    @TempDir
    Path dir;

    private static void assumeKvm() {
        Path kvm = Path.of("/dev/kvm");
        assumeTrue(Files.exists(kvm), "no /dev/kvm on this host (KVM tests need hardware KVM or PVM)");
        assumeTrue(Files.isReadable(kvm) && Files.isWritable(kvm), "/dev/kvm is not accessible to this user");
    }

    private static Path ferrite() {
        Path p = Path.of(System.getProperty("panvm.root", ".."), "guest-kernel/target/ferrite");
        assertTrue(Files.isRegularFile(p), "ferrite is not built at " + p.toAbsolutePath() + ": run scripts/build-ferrite");
        return p;
    }

    private String tune(int steps) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = TuneCommand.execute(new PrintWriter(out, true), new PrintWriter(err, true),
                "--workload", "hackbench", "--param", "groups=2", "--param", "loops=50", "--steps", String.valueOf(steps),
                "--repeats", "2", "--keep", "sched_latency_ns", "--out", dir.toString(), "--kernel", ferrite().toString());
        assertEquals(0, status, err.toString());
        return err.toString();
    }

    @Test
    void tunesHackbenchWritesTheReportAndResumes() throws Exception {
        assumeKvm();
        String first = tune(2);
        assertTrue(first.contains("[q-learning] step 2:") && first.contains("[random] step 2:"), first);
        String report = Files.readString(dir.resolve("report.md"));
        for (String expected : new String[] {"| knob | at min | at default | at max | effect | kept |", "sched_latency_ns",
                "sched_nr_migrate", "runs per setting", "Q-learning: 2 steps; random search: 2 steps",
                "best by Q-learning", "best by random search", "improvement over default", "Forced by --keep"}) {
            assertTrue(report.contains(expected), "'" + expected + "' missing from report.md:\n" + report);
        }
        assertTrue(report.matches("(?s).*\\| default \\| step 0 \\| - \\| [0-9.]+ ± [0-9.]+ \\(n=2\\) \\| [0-9.]+ ± [0-9.]+ \\(n=4\\) \\| - \\|.*"), report);
        assertTrue(report.matches("(?s).*\\| best by Q-learning \\| step \\d+ \\| \\d+ \\| .* \\| [-+][0-9.]+ % ± [0-9.]+ % \\|.*"), report);
        assertTrue(Files.readString(dir.resolve("sensitivity.md")).contains("| sched_wakeup_granularity_ns |"));
        byte[] png = Files.readAllBytes(dir.resolve("learning-curve.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
        TuneState saved = TuneState.load(dir.resolve("state.json"));
        assertEquals(2, saved.qSteps());
        assertEquals(2, saved.randomSteps());

        String second = tune(1);
        assertTrue(second.contains("resuming from"), second);
        assertTrue(second.contains("[q-learning] step 3:") && second.contains("[random] step 3:"), second);
        TuneState resumed = TuneState.load(dir.resolve("state.json"));
        assertEquals(3, resumed.qSteps());
        assertEquals(3, resumed.randomSteps());
        assertEquals(saved.filter(), resumed.filter());
        assertTrue(Files.readString(dir.resolve("report.md")).contains("Q-learning: 3 steps; random search: 3 steps"));
    }
}
