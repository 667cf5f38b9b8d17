package dev.panvm.kvm;

/**
 * One CPUID leaf as KVM exchanges it ({@code struct kvm_cpuid_entry2}).
 *
 * @param function EAX input
 * @param index    ECX input (the subleaf), significant when {@code flags} says so
 * @param flags    {@code KVM_CPUID_FLAG_*}
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, flags, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, v);
    }
}
