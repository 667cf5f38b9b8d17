package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ferrite's core workloads and its control channel, on panvm with 1 and 2 vCPUs. */
class FerriteWorkloadKvmTest {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    private static final Pattern NS_PER_OP = Pattern.compile("\"ns_per_op\":([0-9.]+)");

    @BeforeEach
    void needKvm() {
        KvmTestSupport.assumeKvm();
    }

    private static String boot(String cmdline, int cpus) throws Exception {
        return boot(cmdline, cpus, 0);
    }

    /** Boots ferrite with {@code cpus} vCPUs; the guest must exit with {@code status}. */
    private static String boot(String cmdline, int cpus, int status) throws Exception {
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(), cmdline, 256L << 20, cpus,
                BootProtocol.DIRECT, serial);
        try (Machine m = Machine.create(config)) {
            GuestOutcome o = m.run(LIMIT);
            assertEquals(new GuestOutcome.Exited(status), o, serial.text());
            return serial.text();
        }
    }

    private static String resultLine(String serial, String workload) {
        return serial.lines().filter(l -> l.startsWith("{\"workload\":\"" + workload + "\"")).findFirst()
                .orElseThrow(() -> new AssertionError("no JSON result for " + workload + ":\n" + serial));
    }

    @ParameterizedTest(name = "{0} on {1} vCPU(s)")
    @CsvSource({
        "pipe, 1, ops=2000", "pipe, 2, ops=2000 pin=split",
        "hackbench, 1, groups=1 loops=10", "hackbench, 2, groups=2 loops=10",
        "kmalloc, 1, ops=20000", "kmalloc, 2, ops=20000 threads=2",
        "pages, 1, ops=20000", "pages, 2, ops=20000",
    })
    void workloadPrintsOneJsonResultAndExitsZero(String workload, int cpus, String params) throws Exception {
        String line = resultLine(boot("workload=" + workload + " " + params, cpus), workload);
        assertTrue(line.contains("\"cpus\":" + cpus), line);
        assertTrue(line.contains("\"mode\":\""), line);
        assertTrue(line.contains("\"irq\":\""), line);
        Matcher m = NS_PER_OP.matcher(line);
        assertTrue(m.find() && Double.parseDouble(m.group(1)) > 0, "a positive ns_per_op: " + line);
    }

    /**
     * The allocator's per-CPU magazines on 2 vCPUs, churning on both and with every object freed on
     * the other CPU: stamps catch an object handed out twice, and with every CPU held and every cache
     * drained before and after, the slabs count as many objects in use as before.
     */
    @ParameterizedTest(name = "kmalloc {0} on 2 vCPUs")
    @CsvSource({"mode=churn threads=2", "mode=pc threads=2"})
    void kmallocOnTwoCpusLosesNoObject(String params) throws Exception {
        String line = resultLine(boot("workload=kmalloc ops=200000 " + params, 2), "kmalloc");
        assertTrue(line.contains("\"leaked_objects\":0,"), line);
        assertTrue(line.contains("\"failures\":0,"), line);
    }

    /** A thread that recurses without end runs into the guard pages below its stack: a report, status 1. */
    @Test
    void aKernelStackOverflowIsReportedAndEndsTheVmWithStatusOne() throws Exception {
        String serial = boot("test=stack-overflow", 2, 1);
        assertTrue(serial.contains("KERNEL STACK OVERFLOW on cpu 1: task "), serial);
        assertTrue(serial.contains("\"stack-overflow\" ran off its stack"), serial);
    }

    @Test
    void allCpusComeUpAndSchedulingSelfTestPasses() throws Exception {
        String serial = boot("test=sync", 2);
        assertTrue(serial.contains("smp: 2 CPUs online"), serial);
        assertTrue(serial.contains("{\"test\":\"sync\",\"result\":\"ok\""), "the self-test reports ok:\n" + serial);
    }

    @Test
    void tunablesComeFromTheCommandLineAndChangeAtRunTime() throws Exception {
        Pipe out = Pipe.open();
        InputStream guestOut = Channels.newInputStream(out.source());
        OutputStream sink = Channels.newOutputStream(out.sink());
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(), "sched_latency_ns=4000000 ctl=serial ctl_poll_us=100", 256L << 20, 1,
                BootProtocol.DIRECT, sink);
        try (Machine m = Machine.create(config)) {
            m.start();
            awaitLine(guestOut, "{\"ctl\":\"ready\"}");
            send(m, "sysctl sched_latency_ns\n");
            assertEquals("{\"sysctl\":\"sched_latency_ns\",\"value\":4000000}", awaitJson(guestOut));
            send(m, "sysctl sched_latency_ns=3000000\n");
            assertEquals("{\"sysctl\":\"sched_latency_ns\",\"value\":3000000}", awaitJson(guestOut));
            send(m, "sysctl sched_latency_ns\n");
            assertEquals("{\"sysctl\":\"sched_latency_ns\",\"value\":3000000}", awaitJson(guestOut));
            send(m, "sysctl sched_bogus=1\n");
            assertTrue(awaitJson(guestOut).startsWith("{\"error\":"));
            send(m, "exit 0\n");
            assertEquals(new GuestOutcome.Exited(0), m.awaitOutcome(LIMIT));
        }
    }

    private static void send(Machine m, String line) throws InterruptedException {
        byte[] bytes = line.getBytes(StandardCharsets.US_ASCII);
        for (byte b : bytes) {
            while (m.serial().receiveCapacity() == 0) {
                Thread.sleep(1);
            }
            m.serial().receive(new byte[] {b}, 1);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.append((char) c);
        }
        if (c < 0) {
            throw new IOException("guest output ended after: " + b);
        }
        return b.toString().strip();
    }

    private static void awaitLine(InputStream in, String expected) throws IOException {
        String line;
        do {
            line = readLine(in);
        } while (!line.equals(expected));
    }

    private static String awaitJson(InputStream in) throws IOException {
        String line;
        do {
            line = readLine(in);
        } while (!line.startsWith("{"));
        return line;
    }
}
