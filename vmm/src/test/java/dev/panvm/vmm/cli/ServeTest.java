package dev.panvm.vmm.cli;

import dev.panvm.vmm.JarredClassPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code panvm serve} and its client, end to end without KVM: a run handed to a warm worker sees
 * the client's directory, arguments and standard streams (the very open file, in append mode)
 * and ends with its status; the service replaces each worker it hands out; with none ready the
 * client falls back or says so. (Booting a guest through the service: FerriteServeKvmTest.)
 */
class ServeTest {
    @TempDir
    Path dir;
    private Path serveDir;
    private Process service;

    @BeforeEach
    void start() throws Exception {
        serveDir = dir.resolve("serve");
        service = ServeTestSupport.startService(serveDir, 1);
    }

    @AfterEach
    void stop() throws Exception {
        ServeTestSupport.stopService(service);
    }

    @Test
    void aRunSeesTheClientsDirectoryArgumentsAndStreamsAndEndsWithItsStatus() throws Exception {
        Path work = Files.createDirectories(dir.resolve("work"));
        Files.write(work.resolve("k"), new byte[0]);
        ServeTestSupport.Result config = ServeTestSupport.client(work, serveDir, List.of(), "run", "--print-config", "--kernel", "k", "--cpus", "3");
        assertEquals(0, config.status(), config.err());
        assertTrue(config.out().contains("\"kernel_image_path\" : \"" + work.resolve("k") + "\"")
                || config.out().contains("\"kernel_image_path\": \"" + work.resolve("k") + "\""), config.out());
        assertTrue(config.out().contains("\"vcpu_count\": 3") || config.out().contains("\"vcpu_count\" : 3"), config.out());
        assertEquals("", config.err());

        ServeTestSupport.awaitWorkers(serveDir, 1); // the service replaced the worker it handed out
        ServeTestSupport.Result bad = ServeTestSupport.client(work, serveDir, List.of(), "run", "--kernel", "k", "--cpus", "0");
        assertEquals(RunCommand.EXIT_VMM_ERROR, bad.status(), bad.err());
        assertEquals("panvm: --cpus: must be between 1 and 64, got 0\n", bad.err());

        // The worker parsed --print-config and --disk while warming up; none of it sticks.
        ServeTestSupport.awaitWorkers(serveDir, 1);
        ServeTestSupport.Result boot = ServeTestSupport.client(work, serveDir, List.of(), "run", "--kernel", "k");
        assertEquals(RunCommand.EXIT_VMM_ERROR, boot.status(), boot.out() + boot.err());
        assertEquals("", boot.out());
        assertTrue(boot.err().startsWith("panvm: kernel " + work.resolve("k") + ": not an ELF file"), boot.err());

        ServeTestSupport.awaitWorkers(serveDir, 1);
        ServeTestSupport.Result usage = ServeTestSupport.client(work, serveDir, List.of(), "run", "--mem", "lots");
        assertEquals(2, usage.status(), usage.err());
        assertTrue(usage.err().contains("not a size"), usage.err());
    }

    @Test
    void withNoWorkerReadyTheClientFallsBackOrSaysSo() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        ServeTestSupport.Result fallback = ServeTestSupport.client(dir, empty, List.of("--fallback", "/bin/echo"), "run", "--kernel", "k");
        assertEquals(0, fallback.status(), fallback.err());
        assertEquals("run --kernel k\n", fallback.out());
        ServeTestSupport.Result none = ServeTestSupport.client(dir, empty, List.of(), "run", "--kernel", "k");
        assertEquals(RunCommand.EXIT_VMM_ERROR, none.status());
        assertTrue(none.err().startsWith("panvm: no panvm service is ready in " + empty), none.err());
    }

    @Test
    void stoppingTheServiceEndsItsIdleWorkersAndRemovesItsFiles() throws Exception {
        List<Long> idle = ServeTestSupport.workerPids(serveDir);
        assertEquals(1, idle.size());
        ServeTestSupport.stopService(service);
        assertEquals(0, ServeTestSupport.workers(serveDir), "no worker socket left");
        assertFalse(Files.exists(serveDir.resolve("serve.pid")));
        for (long pid : idle) {
            Optional<ProcessHandle> worker = ProcessHandle.of(pid);
            assertTrue(worker.isEmpty() || worker.get().onExit().get(10, TimeUnit.SECONDS) != null, "worker " + pid + " ended");
        }
    }

    @Test
    void aSecondServiceInTheSameDirectoryIsRefused() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process second = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", JarredClassPath.get(),
                Panvm.class.getName(), "serve", "--dir", serveDir.toString()).redirectErrorStream(true).start();
        String out = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(second.waitFor(30, TimeUnit.SECONDS));
        assertEquals(RunCommand.EXIT_VMM_ERROR, second.exitValue(), out);
        assertTrue(out.contains("a service already runs in " + serveDir), out);
    }
}
