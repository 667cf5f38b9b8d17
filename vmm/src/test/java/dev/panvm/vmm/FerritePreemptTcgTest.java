package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Preemption at the timer interrupt's return (ferrite's {@code preempt=full}, the default in
 * interrupt mode), under QEMU's TCG, which delivers interrupts to the guest kernel. Threads that
 * spin without ever reaching a preemption point ({@code workload=spin resched=0}) still share
 * their CPU: each interrupt that finds a task past its slice, with no spin lock held, returns
 * into the scheduler on the task's own stack. Without that preemption the first spinner would
 * keep the CPU for good (with one vCPU even the thread that stops them would never run again).
 */
class FerritePreemptTcgTest {
    private static final int MS = 300;

    @BeforeEach
    void needQemu() {
        KvmTestSupport.assumeQemuInstalled();
    }

    private static JsonNode spin(String cmdline, String... extra) throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("irq=intr workload=spin ms=" + MS + " " + cmdline, extra);
        assertEquals(1, r.status(), "QEMU reports debug-exit 0 as status 1:\n" + r.output());
        assertTrue(r.output().contains("preempt: full"), r.output());
        return KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), "spin"));
    }

    /** With one vCPU the spinners share it with the thread that times and stops them. */
    @ParameterizedTest
    @ValueSource(strings = {"1", "2"})
    void threadsWithoutPreemptionPointsShareTheirCpu(String cpus) throws Exception {
        JsonNode j = spin("threads=4 resched=0", "-smp", cpus);
        assertEquals(Integer.parseInt(cpus), j.path("cpus").asInt(), j.toString());
        assertEquals(0, j.path("resched").asInt(), j.toString());
        assertEquals("full", j.path("preempt").asText(), j.toString());
        // Every thread ran for a fair share: the least busy did at least a third of the busiest's
        // rounds (a thread that never got the CPU would make this 0).
        assertTrue(j.path("min_max_rounds_ratio").asDouble() >= 0.33, j.toString());
        // Slices end at ticks: dozens of switches in 300 ms (a slice is a few ms), each taken at an
        // interrupt's return, since the loop has no other way out.
        assertTrue(j.path("preemptions").asLong() >= 10, j.toString());
        assertTrue(j.path("irq_preemptions").asLong() >= j.path("preemptions").asLong(), j.toString());
        // The run stopped on time: the timing thread got the CPU back when its sleep ended.
        assertTrue(j.path("elapsed_ns").asLong() < 5L * MS * 1_000_000, j.toString());
    }

    @Test
    void voluntaryPreemptionRefusesLoopsWithoutPreemptionPoints() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("irq=intr preempt=voluntary workload=spin resched=0");
        assertEquals(3, r.status(), "a refused workload ends with status 1 (QEMU: 3):\n" + r.output());
        assertTrue(r.output().contains("preempt: voluntary"), r.output());
        assertTrue(r.output().contains("resched=0 needs preempt=full"), r.output());
    }

    /**
     * Tasks preempted anywhere, including between taking and using per-CPU data, on 2 vCPUs: the
     * allocator's per-CPU magazines (kept by a preemption count, not a lock) lose and duplicate
     * nothing, and hackbench's wakeups complete.
     */
    @Test
    void preemptedTasksKeepTheAllocatorAndTheSchedulerConsistent() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("irq=intr workload=kmalloc ops=40000 threads=4", "-smp", "2");
        assertEquals(1, r.status(), r.output());
        JsonNode k = KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), "kmalloc"));
        assertEquals(0, k.path("leaked_objects").asLong(-1), k.toString());
        FerriteQemuKvmTest.Run h = FerriteQemuKvmTest.tcg("irq=intr workload=hackbench groups=2 loops=100", "-smp", "2");
        assertEquals(1, h.status(), h.output());
        JsonNode j = KvmTestSupport.parseJson(KvmTestSupport.resultLine(h.output(), "hackbench"));
        assertEquals(2 * 10 * 10 * 100, j.path("ops").asLong(), j.toString());
    }
}
