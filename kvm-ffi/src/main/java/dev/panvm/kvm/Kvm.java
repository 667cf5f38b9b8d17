package dev.panvm.kvm;

import dev.panvm.kvm.api.KvmConstants;
import dev.panvm.kvm.api.KvmIoctls;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.panvm.kvm.api.KvmStructs.KVM_CPUID2;
import static dev.panvm.kvm.api.KvmStructs.KVM_CPUID_ENTRY2;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The KVM subsystem: a handle on {@code /dev/kvm} and its system ioctls (after rust-vmm's
 * {@code kvm_ioctls::Kvm}). Creates {@link VmFd}s.
 */
public final class Kvm implements AutoCloseable {
    /** The device node KVM is reached through. */
    public static final String DEVICE = "/dev/kvm";

    /** Maximum CPUID entries asked of KVM_GET_SUPPORTED_CPUID (the kernel's own limit is 256). */
    private static final int MAX_CPUID_ENTRIES = 256;

    private final int fd;

    private Kvm(int fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/kvm} and checks that the API version is the stable one (12). */
    public static Kvm open() throws ErrnoException {
        int fd = LibC.open(DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC);
        Kvm kvm = new Kvm(fd);
        int version = kvm.apiVersion();
        if (version != KvmConstants.KVM_API_VERSION) {
            kvm.close();
            throw new IllegalStateException("KVM API version " + version + ", expected " + KvmConstants.KVM_API_VERSION);
        }
        return kvm;
    }

    /** KVM_GET_API_VERSION. */
    public int apiVersion() throws ErrnoException {
        return LibC.ioctl(fd, "KVM_GET_API_VERSION", KvmIoctls.KVM_GET_API_VERSION, 0);
    }

    /** KVM_CHECK_EXTENSION: 0 when the capability is absent, otherwise a capability-specific value. */
    public int checkExtension(int capability) throws ErrnoException {
        return LibC.ioctl(fd, "KVM_CHECK_EXTENSION", KvmIoctls.KVM_CHECK_EXTENSION, capability);
    }

    /** KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's shared {@code kvm_run} mapping. */
    public int vcpuMmapSize() throws ErrnoException {
        return LibC.ioctl(fd, "KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.KVM_GET_VCPU_MMAP_SIZE, 0);
    }

    /** KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can present to a guest on this host. */
    public List<CpuidEntry> supportedCpuid() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(KVM_CPUID2.byteSize() + MAX_CPUID_ENTRIES * KVM_CPUID_ENTRY2.byteSize(), 8);
            buf.set(JAVA_INT, Layouts.offsetOf(KVM_CPUID2, "nent"), MAX_CPUID_ENTRIES);
            LibC.ioctl(fd, "KVM_GET_SUPPORTED_CPUID", KvmIoctls.KVM_GET_SUPPORTED_CPUID, buf);
            int n = buf.get(JAVA_INT, Layouts.offsetOf(KVM_CPUID2, "nent"));
            List<CpuidEntry> entries = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                entries.add(CpuidTable.readEntry(buf, KVM_CPUID2.byteSize() + i * KVM_CPUID_ENTRY2.byteSize()));
            }
            return entries;
        }
    }

    /** KVM_CREATE_VM with the default machine type. */
    public VmFd createVm() throws ErrnoException {
        int vmFd = LibC.ioctl(fd, "KVM_CREATE_VM", KvmIoctls.KVM_CREATE_VM, 0);
        return new VmFd(vmFd, vcpuMmapSize());
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
