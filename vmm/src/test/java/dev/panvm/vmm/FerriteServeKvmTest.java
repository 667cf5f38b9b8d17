package dev.panvm.vmm;

import dev.panvm.vmm.cli.ServeTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ferrite booted through {@code panvm serve}'s warm workers, as {@code scripts/panvm run} does while a service runs. */
class FerriteServeKvmTest {
    @TempDir
    Path dir;
    private Path serveDir;
    /** Null when the test was skipped before starting one. */
    private Process service;

    @BeforeEach
    void needKvmThenStartAService() throws Exception {
        KvmTestSupport.assumeKvm();
        serveDir = dir.resolve("serve");
        service = ServeTestSupport.startService(serveDir, 1);
    }

    @AfterEach
    void stopTheService() throws Exception {
        if (service != null) {
            ServeTestSupport.stopService(service);
        }
    }

    @Test
    void aWorkloadRunsThroughTheServiceWithItsStatusAndOutput() throws Exception {
        ServeTestSupport.Result r = ServeTestSupport.client(dir, serveDir, List.of(), "run", "--kernel",
                KvmTestSupport.ferrite().toAbsolutePath().toString(), "--cpus", "2", "--cmdline", "workload=pipe ops=2000 pin=split");
        assertEquals(0, r.status(), r.err());
        KvmTestSupport.resultLine(r.out(), "pipe");
        assertTrue(r.out().contains("ferrite"), r.out());
    }

    /** A client that is killed (Ctrl-C) ends its run: the worker stops the VM and exits. */
    @Test
    void killingTheClientEndsTheRun() throws Exception {
        Path image = Files.write(dir.resolve("hold.img"), new byte[1 << 20]);
        long workerPid = ServeTestSupport.workerPids(serveDir).getFirst(); // one worker: the one the client takes
        Path out = dir.resolve("out.txt");
        Process client = new ProcessBuilder(ServeTestSupport.CLIENT.toAbsolutePath().toString(), "--dir", serveDir.toString(),
                "--", "run", "--kernel", KvmTestSupport.ferrite().toAbsolutePath().toString(), "--disk", image.toString(),
                "--cmdline", "workload=diskwrite pattern=c3 offset=0 length=4096 hold_ms=60000")
                .redirectOutput(out.toFile()).redirectErrorStream(true).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!(Files.exists(out) && Files.readString(out).contains("\"flushed\":true"))) {
            assertTrue(System.nanoTime() < deadline, "the guest never reported its flush");
            Thread.sleep(50);
        }
        client.destroyForcibly();
        Optional<ProcessHandle> w = ProcessHandle.of(workerPid);
        assertTrue(w.isEmpty() || w.get().onExit().get(30, TimeUnit.SECONDS) != null, "the worker ended");
    }
}
