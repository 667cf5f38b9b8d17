package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guard pages under every kernel stack (ferrite's kstack.rs), under QEMU's TCG on 2 vCPUs: a
 * thread that recurses without end faults in the unmapped guard below its stack, and the page
 * fault report names the CPU, the task, its stack and the fault address, then the VM exits with
 * status 1 (QEMU: 3). Threads that exit give their stack slots back for the next ones.
 */
class FerriteStackGuardTcgTest {
    /** Appended to the TCG command line; QEMU takes the last {@code -smp}. */
    private static final String[] TWO_CPUS = {"-smp", "2"};
    private static final int STACK_BYTES = 32 << 10;
    private static final String HEX = "(0x[0-9a-f]+)";
    private static final Pattern OVERFLOW = Pattern.compile("KERNEL STACK OVERFLOW on cpu (\\d+): task (\\d+) \"([^\"]+)\""
            + " ran off its stack " + HEX + "\\.\\." + HEX + " \\((\\d+) KiB\\): fault address " + HEX
            + " in the guard pages " + HEX + "\\.\\." + HEX);
    private static final Pattern RECURSION = Pattern.compile("test: stack overflow on cpu (\\d+): recursing from " + HEX);

    @BeforeEach
    void needQemu() {
        KvmTestSupport.assumeQemuInstalled();
    }

    /** Kernel addresses (0xffffffff...) as unsigned 64-bit values; all compared ones share the top bit. */
    private static long address(String hex) {
        return Long.parseUnsignedLong(hex.substring(2), 16);
    }

    @Test
    void deepRecursionRunsIntoTheGuardPagesAndIsReported() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("test=stack-overflow", TWO_CPUS);
        String out = r.output();
        assertEquals(3, r.status(), "QEMU reports debug-exit 1 as status 3:\n" + out);
        assertTrue(out.contains("smp: 2 CPUs online"), out);
        Matcher recursion = RECURSION.matcher(out);
        assertTrue(recursion.find(), out);
        Matcher m = OVERFLOW.matcher(out);
        assertTrue(m.find(), "a stack overflow report:\n" + out);

        assertEquals("1", recursion.group(1), "the recursing thread is pinned to the last CPU:\n" + out);
        assertEquals("1", m.group(1), "the report names the faulting CPU:\n" + out);
        assertTrue(Integer.parseInt(m.group(2)) > 0, out);
        assertEquals("stack-overflow", m.group(3), out);
        long bottom = address(m.group(4));
        long top = address(m.group(5));
        assertEquals(STACK_BYTES, top - bottom, out);
        assertEquals(STACK_BYTES >> 10, Integer.parseInt(m.group(6)), out);
        long firstFrame = address(recursion.group(2));
        assertTrue(bottom <= firstFrame && firstFrame < top, "the report names the recursing thread's stack:\n" + out);
        long fault = address(m.group(7));
        long guardStart = address(m.group(8));
        long guardEnd = address(m.group(9));
        assertEquals(bottom, guardEnd, "the guard lies right below the stack:\n" + out);
        assertTrue(guardEnd - guardStart >= 4096, "at least one guard page:\n" + out);
        assertTrue(guardStart <= fault && fault < guardEnd, "the fault address lies in the guard:\n" + out);

        // The generic exception report follows, with the same fault address.
        assertTrue(out.contains("#PF page fault (vector 14) on cpu 1"), out);
        assertTrue(out.contains("cr2=" + m.group(7)), out);
        assertFalse(out.contains("PANIC"), "the fault ended the recursion, not a panic:\n" + out);
    }

    /**
     * The blocking-primitives self-test starts four rounds of threads on both CPUs, each round
     * after the last one's threads have finished: the stack slots of exited threads serve the next
     * ones, so far fewer slots are ever used than threads started.
     */
    @ParameterizedTest
    @ValueSource(strings = {"poll", "intr"})
    void exitedThreadsGiveTheirStackSlotsToNewOnes(String irq) throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("irq=" + irq + " test=sync", TWO_CPUS);
        assertEquals(1, r.status(), "QEMU reports debug-exit 0 as status 1:\n" + r.output());
        String line = r.output().lines().map(String::strip).filter(l -> l.startsWith("{\"test\":\"sync\""))
                .findFirst().orElseThrow(() -> new AssertionError("no test=sync result:\n" + r.output()));
        JsonNode j = KvmTestSupport.parseJson(line);
        assertEquals("ok", j.path("result").asText(), line);
        assertEquals(2, j.path("cpus").asInt(), line);
        long started = j.path("threads_started").asLong();
        long slots = j.path("stack_slots").asLong();
        assertTrue(started >= 28, line);
        assertTrue(slots > 0 && slots < started / 2, "stack slots reused: " + line);
    }

    /** A normal workload with many threads on both CPUs runs on guarded stacks as before. */
    @Test
    void hackbenchRunsOnGuardedStacks() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("workload=hackbench groups=4 loops=20", TWO_CPUS);
        assertEquals(1, r.status(), "QEMU reports debug-exit 0 as status 1:\n" + r.output());
        JsonNode j = KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), "hackbench"));
        assertEquals(2, j.path("cpus").asInt(), j.toString());
        assertEquals(80, j.path("threads").asInt(), j.toString());
        assertEquals(4L * 10 * 10 * 20, j.path("ops").asLong(), j.toString());
    }
}
