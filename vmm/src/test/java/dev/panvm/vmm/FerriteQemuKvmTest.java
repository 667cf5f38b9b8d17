package dev.panvm.vmm;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The independent reference: the same ferrite image under QEMU's microvm (PVH entry, QEMU's own
 * UART and isa-debug-exit). QEMU reports a debug-exit value v as status (v << 1) | 1.
 */
class FerriteQemuKvmTest {
    @BeforeEach
    void needKvmAndQemu() {
        KvmTestSupport.assumeQemu();
    }

    /**
     * The QEMU command line for ferrite plus {@code extra} arguments (devices). virtio-mmio
     * transports are made modern (version 2), the one panvm offers, so both VMMs are compared on
     * the same transport (ferrite drives QEMU 7.2's default, legacy, too: FerriteLegacyMmioTcgTest).
     */
    static List<String> qemuCommand(Path kernel, String cmdline, String... extra) {
        return command(List.of("-enable-kvm", "-cpu", "host,-arch-capabilities"), kernel, cmdline, extra);
    }

    /**
     * As {@link #qemuCommand}, on QEMU's TCG instead of KVM: ferrite then gets real interrupts,
     * which a PVM host never delivers to its kernel mode.
     */
    static List<String> tcgCommand(Path kernel, String cmdline, String... extra) {
        return command(List.of("-accel", "tcg", "-cpu", "max"), kernel, cmdline, extra);
    }

    private static List<String> command(List<String> accel, Path kernel, String cmdline, String... extra) {
        List<String> cmd = new ArrayList<>(List.of(KvmTestSupport.QEMU, "-M", "microvm"));
        cmd.addAll(accel);
        cmd.addAll(List.of("-m", "128M", "-smp", "1",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-global", "virtio-mmio.force-legacy=false", "-kernel", kernel.toString()));
        cmd.addAll(List.of(extra));
        if (!cmdline.isEmpty()) {
            cmd.addAll(List.of("-append", cmdline));
        }
        return cmd;
    }

    record Run(int status, String output) {}

    static Run qemu(String cmdline, String... extra) throws Exception {
        return run(qemuCommand(KvmTestSupport.ferrite(), cmdline, extra));
    }

    /** ferrite under QEMU's TCG. */
    static Run tcg(String cmdline, String... extra) throws Exception {
        return run(tcgCommand(KvmTestSupport.ferrite(), cmdline, extra));
    }

    private static Run run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "QEMU did not finish");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void ferriteBootsUnderQemuAndExitsZero() throws Exception {
        Run r = qemu("hello=qemu");
        assertEquals(1, r.status(), "debug-exit 0 appears as QEMU status 1\n" + r.output());
        assertTrue(r.output().contains("ferrite") && r.output().contains("booted"), r.output());
        assertTrue(r.output().contains("entry: pvh"), r.output());
        assertTrue(r.output().contains("hello=qemu"), r.output());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {
        "workload=pipe ops=2000", "workload=hackbench groups=1 loops=10", "workload=kmalloc ops=20000",
        "workload=pages ops=20000"})
    void workloadsRunUnderQemu(String cmdline) throws Exception {
        Run r = qemu(cmdline);
        assertEquals(1, r.status(), r.output());
        String workload = cmdline.substring("workload=".length(), cmdline.indexOf(' '));
        assertTrue(r.output().contains("{\"workload\":\"" + workload + "\""), r.output());
    }

    @Test
    void kernelCodeRunsNativelyUnderQemu() throws Exception {
        Run r = qemu("bench=loop");
        assertEquals(1, r.status(), r.output());
        KvmTestSupport.assertNativeLoop(r.output());
    }

    @Test
    void ferritePanicUnderQemu() throws Exception {
        Run r = qemu("test=panic");
        assertEquals(3, r.status(), "debug-exit 1 appears as QEMU status 3\n" + r.output());
        assertTrue(r.output().contains("PANIC: test panic requested"), r.output());
    }
}
