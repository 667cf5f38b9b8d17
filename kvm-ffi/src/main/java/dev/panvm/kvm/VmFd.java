package dev.panvm.kvm;

import dev.panvm.kvm.api.KvmConstants;
import dev.panvm.kvm.api.KvmIoctls;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.panvm.kvm.api.KvmStructs.KVM_IOEVENTFD;
import static dev.panvm.kvm.api.KvmStructs.KVM_IRQFD;
import static dev.panvm.kvm.api.KvmStructs.KVM_IRQ_LEVEL;
import static dev.panvm.kvm.api.KvmStructs.KVM_PIT_CONFIG;
import static dev.panvm.kvm.api.KvmStructs.KVM_USERSPACE_MEMORY_REGION;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A virtual machine: the VM ioctls of the KVM API (after rust-vmm's {@code VmFd}). */
public final class VmFd implements AutoCloseable {
    private final int fd;
    private final int vcpuMmapSize;

    VmFd(int fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /** KVM_SET_USER_MEMORY_REGION: maps host memory at {@code hostMemory} into guest-physical space. */
    public void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, MemorySegment hostMemory)
            throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(KVM_USERSPACE_MEMORY_REGION);
            r.set(JAVA_INT, off("slot"), slot);
            r.set(JAVA_INT, off("flags"), flags);
            r.set(JAVA_LONG, off("guest_phys_addr"), guestPhysAddr);
            r.set(JAVA_LONG, off("memory_size"), hostMemory.byteSize());
            r.set(JAVA_LONG, off("userspace_addr"), hostMemory.address());
            LibC.ioctl(fd, "KVM_SET_USER_MEMORY_REGION", KvmIoctls.KVM_SET_USER_MEMORY_REGION, r);
        }
    }

    private static long off(String field) {
        return Layouts.offsetOf(KVM_USERSPACE_MEMORY_REGION, field);
    }

    /** KVM_SET_TSS_ADDR: three pages of guest-physical space Intel VMX needs for real-mode emulation. */
    public void setTssAddr(long address) throws ErrnoException {
        LibC.ioctl(fd, "KVM_SET_TSS_ADDR", KvmIoctls.KVM_SET_TSS_ADDR, address);
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map of real mode on Intel. */
    public void setIdentityMapAddr(long address) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocateFrom(JAVA_LONG, address);
            LibC.ioctl(fd, "KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, a);
        }
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and local APICs. */
    public void createIrqchip() throws ErrnoException {
        LibC.ioctl(fd, "KVM_CREATE_IRQCHIP", KvmIoctls.KVM_CREATE_IRQCHIP, 0);
    }

    /** KVM_CREATE_PIT2: in-kernel i8254 PIT; {@code flags} e.g. KVM_PIT_SPEAKER_DUMMY. */
    public void createPit2(int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(KVM_PIT_CONFIG);
            c.set(JAVA_INT, Layouts.offsetOf(KVM_PIT_CONFIG, "flags"), flags);
            LibC.ioctl(fd, "KVM_CREATE_PIT2", KvmIoctls.KVM_CREATE_PIT2, c);
        }
    }

    /** KVM_IRQ_LINE: sets the level of an interrupt line (GSI) of the in-kernel irqchip. */
    public void irqLine(int gsi, boolean high) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(KVM_IRQ_LEVEL);
            l.set(JAVA_INT, Layouts.offsetOf(KVM_IRQ_LEVEL, "irq"), gsi);
            l.set(JAVA_INT, Layouts.offsetOf(KVM_IRQ_LEVEL, "level"), high ? 1 : 0);
            LibC.ioctl(fd, "KVM_IRQ_LINE", KvmIoctls.KVM_IRQ_LINE, l);
        }
    }

    /** KVM_IRQFD: a write to the eventfd {@code eventFd} raises (edge) interrupt {@code gsi}. */
    public void irqfd(int eventFd, int gsi) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f = arena.allocate(KVM_IRQFD);
            f.set(JAVA_INT, Layouts.offsetOf(KVM_IRQFD, "fd"), eventFd);
            f.set(JAVA_INT, Layouts.offsetOf(KVM_IRQFD, "gsi"), gsi);
            LibC.ioctl(fd, "KVM_IRQFD", KvmIoctls.KVM_IRQFD, f);
        }
    }

    /**
     * KVM_IOEVENTFD: a guest write of {@code length} bytes to {@code address} (port I/O when
     * {@code pio}) signals {@code eventFd} inside KVM, without an exit to the VMM.
     */
    public void ioeventfd(int eventFd, long address, int length, boolean pio) throws ErrnoException {
        registerIoeventfd(eventFd, address, length, pio ? KvmConstants.KVM_IOEVENTFD_FLAG_PIO : 0, 0);
    }

    /**
     * KVM_IOEVENTFD with a data match: only a guest write of {@code length} bytes of value
     * {@code datamatch} to MMIO {@code address} signals {@code eventFd} (e.g. one eventfd per
     * virtqueue on a virtio-mmio QueueNotify register).
     */
    public void ioeventfd(int eventFd, long address, int length, long datamatch) throws ErrnoException {
        registerIoeventfd(eventFd, address, length, KvmConstants.KVM_IOEVENTFD_FLAG_DATAMATCH, datamatch);
    }

    private void registerIoeventfd(int eventFd, long address, int length, int flags, long datamatch)
            throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment e = arena.allocate(KVM_IOEVENTFD);
            e.set(JAVA_LONG, Layouts.offsetOf(KVM_IOEVENTFD, "datamatch"), datamatch);
            e.set(JAVA_LONG, Layouts.offsetOf(KVM_IOEVENTFD, "addr"), address);
            e.set(JAVA_INT, Layouts.offsetOf(KVM_IOEVENTFD, "len"), length);
            e.set(JAVA_INT, Layouts.offsetOf(KVM_IOEVENTFD, "fd"), eventFd);
            e.set(JAVA_INT, Layouts.offsetOf(KVM_IOEVENTFD, "flags"), flags);
            LibC.ioctl(fd, "KVM_IOEVENTFD", KvmIoctls.KVM_IOEVENTFD, e);
        }
    }

    /** KVM_CREATE_VCPU with the given vCPU (and initial APIC) id. */
    public VcpuFd createVcpu(int id) throws ErrnoException {
        int vcpuFd = LibC.ioctl(fd, "KVM_CREATE_VCPU", KvmIoctls.KVM_CREATE_VCPU, id);
        return new VcpuFd(vcpuFd, id, vcpuMmapSize);
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
