package dev.panvm.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What a run records about its machine, and the share of CPU time the hypervisor took. */
class RunInfoTest {
    @TempDir
    Path dir;

    @Test
    void aRunRecordsItsMachineAndTheStealOverItsLength() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/stat")), "needs Linux's /proc/stat");
        RunInfo.Start start = RunInfo.probe(BenchEnv.root(), "a plan");
        // /proc/stat counts in ticks (10 ms; idle ticks count too): let some pass.
        Thread.sleep(200);
        RunInfo info = start.finish();
        assertNotNull(info.stealPercent(), "the steal share over the run");
        assertTrue(info.stealPercent() >= 0 && info.stealPercent() <= 100, info.toString());
        assertFalse(info.ended().isEmpty());
        assertEquals("a plan", info.plan());
        assertEquals(Runtime.getRuntime().availableProcessors(), info.cores());

        Path file = dir.resolve("run.json");
        info.write(file);
        assertEquals(info, RunInfo.read(file));
    }
}
