package dev.panvm.vmm.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.KvmTestSupport;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding API as a Java program uses it: ferrite booted with its control channel on a
 * virtio-console connected to this process, two different workloads run in the one VM, a bad
 * command answered without ending the VM, and {@code exit} ending it with the status asked for;
 * on panvm and on QEMU, the reference, driven the same way.
 */
class EmbeddingApiKvmTest {
    private static final Duration BOOT = Duration.ofSeconds(60);
    private static final Duration COMMAND = Duration.ofSeconds(60);

    private static MachineConfig config(KvmTestSupport.Capture serial) {
        return MachineConfig.builder(KvmTestSupport.ferrite()).cmdline("ctl=console").memoryBytes(256L << 20)
                .serialOut(serial).console(new ConsoleTarget.InProcess()).build();
    }

    private static void assume(Vmm vmm) {
        KvmTestSupport.assumeKvm();
        if (vmm == Vmm.QEMU) {
            KvmTestSupport.assumeQemu();
        }
    }

    @ParameterizedTest
    @EnumSource(Vmm.class)
    void runsTwoWorkloadsInOneVmThenExits(Vmm vmm) throws Exception {
        assume(vmm);
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        try (RunningVm vm = vmm.start(config(serial), BOOT)) {
            assertEquals(vmm.id(), vm.vmm());
            ControlChannel ctl = vm.control();
            ObjectNode pipe = ctl.run("pipe", "ops=2000", COMMAND);
            assertEquals("pipe", pipe.path("workload").asText(), pipe.toString());
            assertEquals(2000, pipe.path("ops").asLong());
            assertTrue(pipe.path("ns_per_op").asDouble() > 0, pipe.toString());
            ObjectNode kmalloc = ctl.run("kmalloc", "ops=20000 slots=64", COMMAND);
            assertEquals("kmalloc", kmalloc.path("workload").asText(), kmalloc.toString());
            assertEquals(20000, kmalloc.path("ops").asLong());
            assertEquals(0, kmalloc.path("kmalloc_stats").path("failures").asLong(0), kmalloc.toString());

            GuestCommandException refused = assertThrows(GuestCommandException.class,
                    () -> ctl.run("no-such-workload", "", COMMAND));
            assertTrue(refused.getMessage().contains("unknown workload"), refused.getMessage());
            assertThrows(GuestCommandException.class, () -> ctl.run("pipe", "ops=many", COMMAND));
            // still serving
            assertTrue(ctl.send("stats", COMMAND).path("stats").has("context_switches"));

            ctl.exit(3, COMMAND);
            assertEquals(new GuestOutcome.Exited(3), vm.awaitOutcome(Duration.ofSeconds(30)), serial.text());
        }
    }

    @ParameterizedTest
    @EnumSource(Vmm.class)
    void aVmThatEndsMakesTheNextCommandFailWithTheOutcome(Vmm vmm) throws Exception {
        assume(vmm);
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        try (RunningVm vm = vmm.start(config(serial), BOOT)) {
            ctlExit(vm);
            Exception e = assertThrows(Exception.class, () -> vm.control().send("stats", COMMAND));
            assertTrue(e.getMessage().contains("Exited[status=0]"), e.getMessage());
        }
    }

    private static void ctlExit(RunningVm vm) throws Exception {
        vm.control().exit(0, COMMAND);
        assertEquals(new GuestOutcome.Exited(0), vm.awaitOutcome(Duration.ofSeconds(30)));
    }

    @ParameterizedTest
    @EnumSource(Vmm.class)
    void closingARunningVmStopsIt(Vmm vmm) throws Exception {
        assume(vmm);
        RunningVm vm = vmm.start(config(new KvmTestSupport.Capture()), BOOT);
        vm.close();
        assertThrows(Exception.class, () -> vm.control().send("stats", COMMAND));
    }

    @Test
    void aGuestWithoutTheControlChannelTimesOutAtBoot() {
        KvmTestSupport.assumeKvm();
        MachineConfig silent = MachineConfig.builder(KvmTestSupport.ferrite()).cmdline("test=sync").memoryBytes(128L << 20)
                .console(new ConsoleTarget.InProcess()).build();
        MachineException e = assertThrows(MachineException.class, () -> Vmm.PANVM.start(silent, Duration.ofSeconds(3)));
        assertTrue(e.getMessage().contains("control channel"), e.getMessage());
    }

    @Test
    void aVmWithoutAConsoleHasNoControlChannel() throws Exception {
        KvmTestSupport.assumeKvm();
        MachineConfig plain = MachineConfig.builder(KvmTestSupport.ferrite()).memoryBytes(128L << 20).build();
        try (RunningVm vm = Vmm.PANVM.start(plain, BOOT)) {
            assertThrows(IllegalStateException.class, vm::control);
            assertInstanceOf(GuestOutcome.Exited.class, vm.awaitOutcome(Duration.ofSeconds(30)));
        }
    }
}
