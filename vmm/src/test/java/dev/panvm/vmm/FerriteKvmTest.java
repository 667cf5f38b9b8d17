package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Boots ferrite on panvm: banner and clean exit on both entry paths, panic and triple fault. */
class FerriteKvmTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);

    @BeforeEach
    void needKvm() {
        KvmTestSupport.assumeKvm();
    }

    private record Run(GuestOutcome outcome, String serial) {}

    private static Run boot(String cmdline, int cpus, BootProtocol boot) throws Exception {
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(), cmdline, 128L << 20, cpus, boot, serial);
        try (Machine m = Machine.create(config)) {
            GuestOutcome o = m.run(LIMIT);
            return new Run(o, serial.text());
        }
    }

    @ParameterizedTest
    @EnumSource(BootProtocol.class)
    void bootsPrintsBannerWithMemoryMapAndExitsZero(BootProtocol protocol) throws Exception {
        Run r = boot("hello=world", 1, protocol);
        assertEquals(new GuestOutcome.Exited(0), r.outcome(), r.serial());
        assertTrue(r.serial().contains("ferrite") && r.serial().contains("booted"), r.serial());
        assertTrue(r.serial().contains("hello=world"), "banner shows the command line:\n" + r.serial());
        String entry = protocol == BootProtocol.PVH ? "pvh" : "direct";
        assertTrue(r.serial().contains("entry: " + entry), r.serial());
    }

    @Test
    void kernelCodeRunsNatively() throws Exception {
        Run r = boot("bench=loop", 1, BootProtocol.DIRECT);
        assertEquals(new GuestOutcome.Exited(0), r.outcome(), r.serial());
        KvmTestSupport.assertNativeLoop(r.serial());
    }

    @Test
    void bootsWithTwoVcpus() throws Exception {
        Run r = boot("", 2, BootProtocol.DIRECT);
        assertEquals(new GuestOutcome.Exited(0), r.outcome(), r.serial());
        assertTrue(r.serial().contains("smp: 2 CPUs online"), "both vCPUs reached the kernel:\n" + r.serial());
    }

    @Test
    void panicPrintsMessageAndExitsNonZero() throws Exception {
        Run r = boot("test=panic", 1, BootProtocol.DIRECT);
        assertEquals(new GuestOutcome.Exited(1), r.outcome(), r.serial());
        assertTrue(r.serial().contains("PANIC: test panic requested"), r.serial());
    }

    @Test
    void cpuExceptionGivesAReadableReportAndNonZeroStatus() throws Exception {
        Run r = boot("test=page-fault", 1, BootProtocol.DIRECT);
        assertEquals(new GuestOutcome.Exited(1), r.outcome(), r.serial());
        assertTrue(r.serial().contains("#PF") && r.serial().contains("cr2="), r.serial());
    }

    @Test
    void tripleFaultEndsTheVmWithAClearReason() throws Exception {
        long start = System.nanoTime();
        Run r = boot("test=triple-fault", 1, BootProtocol.DIRECT);
        GuestOutcome.Crashed c = assertInstanceOf(GuestOutcome.Crashed.class, r.outcome(), r.serial());
        assertTrue(c.reason().contains("triple-faulted"), c.reason());
        assertTrue(c.cpuState().contains("rip"), c.cpuState());
        assertTrue(System.nanoTime() - start < LIMIT.toNanos(), "ended by the fault, not by the time limit");
    }
}
