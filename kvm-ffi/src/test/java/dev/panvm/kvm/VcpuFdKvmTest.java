package dev.panvm.kvm;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The wrappers against real KVM, in the manner of rust-vmm's kvm-ioctls tests: tiny real-mode
 * programs whose port I/O comes back as exits.
 */
class VcpuFdKvmTest {
    private static final long CODE = 0x1000;

    Kvm kvm;
    VmFd vm;
    MemorySegment ram;

    @BeforeEach
    void open() throws ErrnoException {
        Path dev = Path.of(Kvm.DEVICE);
        assumeTrue(Files.isReadable(dev) && Files.isWritable(dev), "no usable /dev/kvm on this host");
        kvm = Kvm.open();
        vm = kvm.createVm();
        ram = LibC.mmap(0x10000, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        vm.setUserMemoryRegion(0, 0, 0, ram);
    }

    @AfterEach
    void close() throws ErrnoException {
        if (kvm != null) {
            vm.close();
            LibC.munmap(ram);
            kvm.close();
        }
    }

    /** A vCPU in real mode at CS:IP = 0:CODE with {@code code} placed there. */
    private VcpuFd realModeVcpu(int... code) throws ErrnoException {
        for (int i = 0; i < code.length; i++) {
            ram.set(JAVA_BYTE, CODE + i, (byte) code[i]);
        }
        VcpuFd vcpu = vm.createVcpu(0);
        Sregs s = vcpu.getSregs();
        Segment cs = new Segment(0, 0xffff, 0, s.cs().type(), true, 0, false, true, false, false, false, false);
        vcpu.setSregs(new Sregs(cs, s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap()));
        vcpu.setRegs(Regs.initial(CODE, 0x8000));
        return vcpu;
    }

    @Test
    void systemIoctls() throws ErrnoException {
        assertEquals(12, kvm.apiVersion());
        assertTrue(kvm.vcpuMmapSize() >= 4096);
        assertTrue(kvm.supportedCpuid().stream().anyMatch(e -> e.function() == 0 && e.eax() > 0),
                "leaf 0 reports the highest basic leaf");
    }

    @Test
    void outExitsCarryPortSizeAndDataThenHlt() throws ErrnoException {
        // mov dx,0x3f8; mov al,'A'; out dx,al; mov al,'\n'; out dx,al; hlt
        try (VcpuFd vcpu = realModeVcpu(0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, 0xb0, '\n', 0xee, 0xf4)) {
            VcpuExit.Io first = assertInstanceOf(VcpuExit.Io.class, vcpu.run());
            assertTrue(first.out());
            assertEquals(0x3f8, first.port());
            assertEquals(1, first.size());
            assertEquals(1, first.count());
            assertEquals('A', first.data().get(JAVA_BYTE, 0));
            VcpuExit.Io second = assertInstanceOf(VcpuExit.Io.class, vcpu.run());
            assertEquals('\n', second.data().get(JAVA_BYTE, 0));
            assertInstanceOf(VcpuExit.Hlt.class, vcpu.run());
            assertEquals(CODE + 10, vcpu.getRegs().rip(), "RIP is past the hlt");
        }
    }

    @Test
    void inExitTakesTheValueTheVmmWrites() throws ErrnoException {
        // mov dx,0x10; in al,dx; mov dx,0x11; out dx,al; hlt
        try (VcpuFd vcpu = realModeVcpu(0xba, 0x10, 0x00, 0xec, 0xba, 0x11, 0x00, 0xee, 0xf4)) {
            VcpuExit.Io in = assertInstanceOf(VcpuExit.Io.class, vcpu.run());
            assertFalse(in.out());
            assertEquals(0x10, in.port());
            in.data().set(JAVA_BYTE, 0, (byte) 0x5a);
            VcpuExit.Io out = assertInstanceOf(VcpuExit.Io.class, vcpu.run());
            assertEquals(0x11, out.port());
            assertEquals(0x5a, out.data().get(JAVA_BYTE, 0));
        }
    }

    @Test
    void registersRoundTrip() throws ErrnoException {
        try (VcpuFd vcpu = vm.createVcpu(0)) {
            Regs r = new Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1234, 0x2);
            vcpu.setRegs(r);
            assertEquals(r, vcpu.getRegs());
            Sregs s = vcpu.getSregs();
            vcpu.setSregs(s);
            Sregs again = vcpu.getSregs();
            assertEquals(s.cs(), again.cs());
            assertEquals(s.cr0(), again.cr0());
            assertEquals(s.apicBase(), again.apicBase());
        }
    }

    @Test
    void failedIoctlNamesItselfAndErrno() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> vm.createVcpu(-1));
        assertEquals("KVM_CREATE_VCPU", e.call());
        assertTrue(e.errno() > 0);
        assertTrue(e.getMessage().startsWith("KVM_CREATE_VCPU: "), e.getMessage());
    }
}
