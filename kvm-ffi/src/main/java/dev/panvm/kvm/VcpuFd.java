package dev.panvm.kvm;

import dev.panvm.kvm.api.KvmConstants;
import dev.panvm.kvm.api.KvmIoctls;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

import static dev.panvm.kvm.api.KvmStructs.KVM_FPU;
import static dev.panvm.kvm.api.KvmStructs.KVM_MP_STATE;
import static dev.panvm.kvm.api.KvmStructs.KVM_MSRS;
import static dev.panvm.kvm.api.KvmStructs.KVM_MSR_ENTRY;
import static dev.panvm.kvm.api.KvmStructs.KVM_REGS;
import static dev.panvm.kvm.api.KvmStructs.KVM_RUN;
import static dev.panvm.kvm.api.KvmStructs.KVM_SREGS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A virtual CPU: the vCPU ioctls of the KVM API (after rust-vmm's {@code VcpuFd}) and its shared
 * {@code kvm_run} page. KVM wants a vCPU's ioctls issued from one thread; panvm runs each vCPU on
 * its own platform thread.
 */
public final class VcpuFd implements AutoCloseable {
    private static final long EXIT_REASON = Layouts.offsetOf(KVM_RUN, "exit_reason");
    private static final long IMMEDIATE_EXIT = Layouts.offsetOf(KVM_RUN, "immediate_exit");
    private static final long IO_DIRECTION = Layouts.offsetOf(KVM_RUN, "io.direction");
    private static final long IO_SIZE = Layouts.offsetOf(KVM_RUN, "io.size");
    private static final long IO_PORT = Layouts.offsetOf(KVM_RUN, "io.port");
    private static final long IO_COUNT = Layouts.offsetOf(KVM_RUN, "io.count");
    private static final long IO_DATA_OFFSET = Layouts.offsetOf(KVM_RUN, "io.data_offset");
    private static final long MMIO_ADDR = Layouts.offsetOf(KVM_RUN, "mmio.phys_addr");
    private static final long MMIO_DATA = Layouts.offsetOf(KVM_RUN, "mmio.data");
    private static final long MMIO_LEN = Layouts.offsetOf(KVM_RUN, "mmio.len");
    private static final long MMIO_IS_WRITE = Layouts.offsetOf(KVM_RUN, "mmio.is_write");
    private static final long FAIL_REASON = Layouts.offsetOf(KVM_RUN, "fail_entry.hardware_entry_failure_reason");
    private static final long FAIL_CPU = Layouts.offsetOf(KVM_RUN, "fail_entry.cpu");
    private static final long INTERNAL_SUBERROR = Layouts.offsetOf(KVM_RUN, "internal.suberror");
    private static final long INTERNAL_NDATA = Layouts.offsetOf(KVM_RUN, "internal.ndata");
    private static final long INTERNAL_DATA = Layouts.offsetOf(KVM_RUN, "internal.data");
    private static final long SYSTEM_EVENT_TYPE = Layouts.offsetOf(KVM_RUN, "system_event.type");

    private final int fd;
    private final int id;
    private final MemorySegment run;
    // Scratch buffers for register transfers, allocated once: a vCPU is used from one thread.
    private final Arena arena = Arena.ofShared();
    private final MemorySegment regsBuf = arena.allocate(KVM_REGS);
    private final MemorySegment sregsBuf = arena.allocate(KVM_SREGS);
    private final MemorySegment fpuBuf = arena.allocate(KVM_FPU);
    private final MemorySegment mpStateBuf = arena.allocate(KVM_MP_STATE);

    VcpuFd(int fd, int id, int mmapSize) throws ErrnoException {
        this.fd = fd;
        this.id = id;
        this.run = LibC.mmap(mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
    }

    /** The vCPU id given at creation (also its initial APIC id). */
    public int id() {
        return id;
    }

    /**
     * KVM_RUN: runs the guest until it needs the VMM, and decodes why it stopped. A signal
     * delivered to the calling thread (see {@link #setImmediateExit}) returns {@link VcpuExit.Interrupted}.
     */
    public VcpuExit run() throws ErrnoException {
        int r = LibC.ioctlInterruptible(fd, "KVM_RUN", KvmIoctls.KVM_RUN, 0);
        if (r < 0) {
            return new VcpuExit.Interrupted();
        }
        int reason = run.get(JAVA_INT, EXIT_REASON);
        return switch (reason) {
            case KvmConstants.KVM_EXIT_IO -> {
                int size = Byte.toUnsignedInt(run.get(JAVA_BYTE, IO_SIZE));
                int count = run.get(JAVA_INT, IO_COUNT);
                long dataOffset = run.get(JAVA_LONG, IO_DATA_OFFSET);
                yield new VcpuExit.Io(run.get(JAVA_BYTE, IO_DIRECTION) == KvmConstants.KVM_EXIT_IO_OUT,
                        Short.toUnsignedInt(run.get(JAVA_SHORT, IO_PORT)), size, count,
                        run.asSlice(dataOffset, (long) size * count));
            }
            case KvmConstants.KVM_EXIT_MMIO -> new VcpuExit.Mmio(run.get(JAVA_LONG, MMIO_ADDR),
                    run.get(JAVA_BYTE, MMIO_IS_WRITE) != 0,
                    run.asSlice(MMIO_DATA, Math.min(8, run.get(JAVA_INT, MMIO_LEN))));
            case KvmConstants.KVM_EXIT_HLT -> new VcpuExit.Hlt();
            case KvmConstants.KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case KvmConstants.KVM_EXIT_FAIL_ENTRY ->
                    new VcpuExit.FailEntry(run.get(JAVA_LONG, FAIL_REASON), run.get(JAVA_INT, FAIL_CPU));
            case KvmConstants.KVM_EXIT_INTERNAL_ERROR -> {
                int n = Math.min(16, run.get(JAVA_INT, INTERNAL_NDATA));
                long[] data = new long[Math.max(0, n)];
                for (int i = 0; i < data.length; i++) {
                    data[i] = run.get(JAVA_LONG, INTERNAL_DATA + 8L * i);
                }
                yield new VcpuExit.InternalError(run.get(JAVA_INT, INTERNAL_SUBERROR), data);
            }
            case KvmConstants.KVM_EXIT_SYSTEM_EVENT -> new VcpuExit.SystemEvent(run.get(JAVA_INT, SYSTEM_EVENT_TYPE));
            case KvmConstants.KVM_EXIT_INTR -> new VcpuExit.Interrupted();
            default -> new VcpuExit.Other(reason);
        };
    }

    /**
     * Sets {@code kvm_run.immediate_exit}: while set, KVM_RUN returns at once with EINTR. Another
     * thread sets it and then signals this vCPU's thread to stop it promptly.
     */
    public void setImmediateExit(boolean exit) {
        run.set(JAVA_BYTE, IMMEDIATE_EXIT, (byte) (exit ? 1 : 0));
    }

    /** KVM_GET_REGS. */
    public Regs getRegs() throws ErrnoException {
        MemorySegment s = regsBuf.fill((byte) 0);
        LibC.ioctl(fd, "KVM_GET_REGS", KvmIoctls.KVM_GET_REGS, s);
        return Regs.read(s);
    }

    /** KVM_SET_REGS. */
    public void setRegs(Regs regs) throws ErrnoException {
        MemorySegment s = regsBuf.fill((byte) 0);
        regs.write(s);
        LibC.ioctl(fd, "KVM_SET_REGS", KvmIoctls.KVM_SET_REGS, s);
    }

    /** KVM_GET_SREGS. */
    public Sregs getSregs() throws ErrnoException {
        MemorySegment s = sregsBuf.fill((byte) 0);
        LibC.ioctl(fd, "KVM_GET_SREGS", KvmIoctls.KVM_GET_SREGS, s);
        return Sregs.read(s);
    }

    /** KVM_SET_SREGS. */
    public void setSregs(Sregs sregs) throws ErrnoException {
        MemorySegment s = sregsBuf.fill((byte) 0);
        sregs.write(s);
        LibC.ioctl(fd, "KVM_SET_SREGS", KvmIoctls.KVM_SET_SREGS, s);
    }

    /**
     * KVM_SET_FPU with the x87 and SSE control words in their reset state (FCW 0x37f, MXCSR
     * 0x1f80: all exceptions masked), so guest code may use SSE from its first instruction.
     */
    public void setFpuDefaults() throws ErrnoException {
        MemorySegment s = fpuBuf.fill((byte) 0);
        s.set(JAVA_SHORT, Layouts.offsetOf(KVM_FPU, "fcw"), (short) 0x37f);
        s.set(JAVA_INT, Layouts.offsetOf(KVM_FPU, "mxcsr"), 0x1f80);
        LibC.ioctl(fd, "KVM_SET_FPU", KvmIoctls.KVM_SET_FPU, s);
    }

    /** KVM_SET_CPUID2: the CPUID leaves this vCPU presents. */
    public void setCpuid(List<CpuidEntry> entries) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            LibC.ioctl(fd, "KVM_SET_CPUID2", KvmIoctls.KVM_SET_CPUID2, CpuidTable.toKvmCpuid2(a, entries));
        }
    }

    /** KVM_SET_MSRS: writes model-specific registers (index to value); fails if any is refused. */
    public void setMsrs(Map<Integer, Long> msrs) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, msrs.keySet().stream().mapToInt(Integer::intValue).toArray());
            int i = 0;
            for (long value : msrs.values()) {
                buf.set(JAVA_LONG, msrEntry(i++) + Layouts.offsetOf(KVM_MSR_ENTRY, "data"), value);
            }
            int written = LibC.ioctl(fd, "KVM_SET_MSRS", KvmIoctls.KVM_SET_MSRS, buf);
            if (written != msrs.size()) {
                throw new IllegalStateException("KVM_SET_MSRS: KVM accepted " + written + " of " + msrs.size() + " MSRs");
            }
        }
    }

    /** KVM_GET_MSRS of one MSR; empty when KVM does not know it. */
    public java.util.OptionalLong getMsr(int index) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, new int[] {index});
            int read = LibC.ioctl(fd, "KVM_GET_MSRS", KvmIoctls.KVM_GET_MSRS, buf);
            return read == 1
                    ? java.util.OptionalLong.of(buf.get(JAVA_LONG, msrEntry(0) + Layouts.offsetOf(KVM_MSR_ENTRY, "data")))
                    : java.util.OptionalLong.empty();
        }
    }

    private static long msrEntry(int i) {
        return KVM_MSRS.byteSize() + i * KVM_MSR_ENTRY.byteSize();
    }

    private static MemorySegment msrBuffer(Arena a, int[] indices) {
        MemorySegment buf = a.allocate(msrEntry(indices.length), 8);
        buf.set(JAVA_INT, Layouts.offsetOf(KVM_MSRS, "nmsrs"), indices.length);
        for (int i = 0; i < indices.length; i++) {
            buf.set(JAVA_INT, msrEntry(i) + Layouts.offsetOf(KVM_MSR_ENTRY, "index"), indices[i]);
        }
        return buf;
    }

    /** KVM_GET_MP_STATE: {@code KVM_MP_STATE_*} (e.g. an AP waiting for INIT/SIPI). */
    public int getMpState() throws ErrnoException {
        MemorySegment s = mpStateBuf.fill((byte) 0);
        LibC.ioctl(fd, "KVM_GET_MP_STATE", KvmIoctls.KVM_GET_MP_STATE, s);
        return s.get(JAVA_INT, 0);
    }

    /** KVM_SET_MP_STATE. */
    public void setMpState(int state) throws ErrnoException {
        MemorySegment s = mpStateBuf.fill((byte) 0);
        s.set(JAVA_INT, 0, state);
        LibC.ioctl(fd, "KVM_SET_MP_STATE", KvmIoctls.KVM_SET_MP_STATE, s);
    }

    /** KVM_GET_TSC_KHZ: the guest's TSC frequency. */
    public int tscKhz() throws ErrnoException {
        return LibC.ioctl(fd, "KVM_GET_TSC_KHZ", KvmIoctls.KVM_GET_TSC_KHZ, 0);
    }

    @Override
    public void close() {
        try {
            LibC.munmap(run);
        } catch (ErrnoException e) {
            // The mapping is gone with the process anyway; nothing useful to do.
        }
        LibC.close(fd);
        arena.close();
    }
}
