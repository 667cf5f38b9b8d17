package dev.panvm.vmm;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite's workloads under panvm's seccomp sandbox, which {@code panvm run} installs by default:
 * each runs in its own {@code panvm run} process, as a user's does, and must end as it does
 * without the sandbox, with no system call refused on the way.
 */
class FerriteSandboxKvmTest {
    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmTestSupport.assumeKvm();
    }

    private record Run(int status, String output) {}

    private static Run panvm(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(KvmTestSupport.panvmCommand("--timeout", "120"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(150, TimeUnit.SECONDS), "panvm ended");
        return new Run(p.exitValue(), out);
    }

    private static void assertNothingRefused(Run r) {
        assertFalse(r.output().contains("Operation not permitted"), r.output());
        assertFalse(r.output().contains("cannot install the seccomp sandbox"), r.output());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "workload=pipe ops=2000 pin=split|2",
        "workload=hackbench groups=2 loops=10|2",
        "workload=kmalloc ops=200000 mode=pc threads=2|2",
        "workload=pages ops=20000|2",
        "workload=pipe ops=2000 irq=intr|2",
        "test=sync|2",
    })
    void cpuAndMemoryWorkloadsRunAsWithout(String cmdline, int cpus) throws Exception {
        Run r = panvm("--cpus", String.valueOf(cpus), "--cmdline", cmdline);
        assertEquals(0, r.status(), r.output());
        assertNothingRefused(r);
        assertTrue(r.output().contains("{\"workload\":") || r.output().contains("{\"test\":\"sync\",\"result\":\"ok\""),
                r.output());
    }

    @Test
    void diskWritesFlushesAndReadsRunInTheSandbox() throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 20]);
        Run write = panvm("--disk", image.toString(), "--cmdline", "workload=diskwrite pattern=5a offset=8192 length=12288");
        assertEquals(0, write.status(), write.output());
        assertNothingRefused(write);
        byte[] after = Files.readAllBytes(image);
        for (int i = 8192; i < 8192 + 12288; i++) {
            assertEquals((byte) 0x5a, after[i], "byte " + i);
        }
        Run sum = panvm("--disk", image.toString(), "--cmdline", "workload=disksum");
        assertEquals(0, sum.status(), sum.output());
        assertNothingRefused(sum);
    }

    @Test
    void fioOnExt2WithFourJobsRunsInTheSandbox() throws Exception {
        Path image = WritableExt2.create(dir, 3, "untouched\n".getBytes());
        Run r = panvm("--cpus", "2", "--disk", image.toString(), "--cmdline",
                "workload=fio file=/w.bin jobs=4 rw=randrw rwmixread=50 verify=1 ops=500 cache_pages=64");
        assertEquals(0, r.status(), r.output());
        assertNothingRefused(r);
        WritableExt2.run(KvmTestSupport.e2fsprogs("e2fsck"), "-fn", image.toString());
    }

    @Test
    void rngRunsInTheSandbox() throws Exception {
        Run r = panvm("--rng", "--cmdline", "workload=rng bytes=256");
        assertEquals(0, r.status(), r.output());
        assertNothingRefused(r);
        assertTrue(r.output().contains("\"bytes\":256"), r.output());
    }

    /** The console socket accepts its client after the sandbox is on; the guest answers over it. */
    @Test
    void theControlChannelOnTheConsoleSocketWorksInTheSandbox() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        Process p = new ProcessBuilder(KvmTestSupport.panvmCommand("--timeout", "60", "--console", "unix:" + sock,
                "--cmdline", "ctl=console")).redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(sock) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Thread.sleep(500); // the sandbox goes on right after the VM starts; connect after it
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock));
                 BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8))) {
                ch.write(ByteBuffer.wrap("sysctl sched_latency_ns\n".getBytes(StandardCharsets.UTF_8)));
                String line;
                do {
                    line = in.readLine();
                } while (line != null && !line.contains("\"sysctl\""));
                assertTrue(line != null && line.contains("sched_latency_ns"), String.valueOf(line));
                ch.write(ByteBuffer.wrap("exit 0\n".getBytes(StandardCharsets.UTF_8)));
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "panvm ended");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), out);
            assertNothingRefused(new Run(p.exitValue(), out));
        } finally {
            p.destroyForcibly();
        }
    }

    /** While the guest runs, the kernel reports the process as filtered, with no_new_privs set. */
    @Test
    void theRunningProcessIsUnderASeccompFilterUnlessAskedNot() throws Exception {
        assertEquals("2", statusWhileRunning(), "Seccomp: 2 (SECCOMP_MODE_FILTER)");
        assertEquals("0", statusWhileRunning("--no-sandbox"), "Seccomp: 0 with --no-sandbox");
    }

    private String statusWhileRunning(String... extra) throws Exception {
        Path image = dir.resolve("hold.img");
        Files.write(image, new byte[1 << 20]);
        List<String> cmd = new ArrayList<>(KvmTestSupport.panvmCommand(extra));
        cmd.addAll(List.of("--disk", image.toString(), "--cmdline",
                "workload=diskwrite pattern=c3 offset=0 length=4096 hold_ms=60000"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            StringBuilder seen = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null) {
                seen.append(line).append('\n');
                if (line.contains("\"flushed\":true")) {
                    String status = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "status"));
                    return status.lines().filter(l -> l.startsWith("Seccomp:")).findFirst()
                            .orElseThrow(() -> new AssertionError(status)).substring("Seccomp:".length()).strip();
                }
            }
            throw new AssertionError("the guest never reported its flush:\n" + seen);
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
