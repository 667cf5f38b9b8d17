package dev.panvm.bindgen;

import java.util.List;

/**
 * What panvm needs from the KVM headers: the one place to add a struct, an ioctl or a constant.
 * Structs that these contain are generated as well.
 */
final class Wanted {
    private Wanted() {}

    /** C struct tags, each generated as a {@code StructLayout} constant in UPPER_SNAKE. */
    static final List<String> STRUCTS = List.of(
            "kvm_run",
            "kvm_regs",
            "kvm_sregs",
            "kvm_segment",
            "kvm_dtable",
            "kvm_fpu",
            "kvm_userspace_memory_region",
            "kvm_cpuid2",
            "kvm_cpuid_entry2",
            "kvm_msrs",
            "kvm_msr_entry",
            "kvm_msr_list",
            "kvm_pit_config",
            "kvm_irqfd",
            "kvm_ioeventfd",
            "kvm_irq_level",
            "kvm_lapic_state",
            "kvm_mp_state",
            "kvm_signal_mask",
            "kvm_clock_data");

    /** Ioctl request macros, in the order they are generated. */
    static final List<String> IOCTLS = List.of(
            // system (/dev/kvm)
            "KVM_GET_API_VERSION",
            "KVM_CREATE_VM",
            "KVM_GET_VCPU_MMAP_SIZE",
            "KVM_CHECK_EXTENSION",
            "KVM_GET_SUPPORTED_CPUID",
            "KVM_GET_MSR_INDEX_LIST",
            // VM
            "KVM_CREATE_VCPU",
            "KVM_SET_USER_MEMORY_REGION",
            "KVM_SET_TSS_ADDR",
            "KVM_SET_IDENTITY_MAP_ADDR",
            "KVM_CREATE_IRQCHIP",
            "KVM_CREATE_PIT2",
            "KVM_IRQ_LINE",
            "KVM_IRQFD",
            "KVM_IOEVENTFD",
            "KVM_GET_CLOCK",
            "KVM_SET_CLOCK",
            // vCPU
            "KVM_RUN",
            "KVM_GET_REGS",
            "KVM_SET_REGS",
            "KVM_GET_SREGS",
            "KVM_SET_SREGS",
            "KVM_GET_FPU",
            "KVM_SET_FPU",
            "KVM_SET_CPUID2",
            "KVM_GET_MSRS",
            "KVM_SET_MSRS",
            "KVM_GET_LAPIC",
            "KVM_SET_LAPIC",
            "KVM_GET_MP_STATE",
            "KVM_SET_MP_STATE",
            "KVM_GET_TSC_KHZ",
            "KVM_SET_TSC_KHZ",
            "KVM_SET_SIGNAL_MASK");

    /** Integer macros that must be defined. */
    static final List<String> CONSTANTS = List.of(
            "KVMIO",
            "KVM_API_VERSION",
            "KVM_MEM_LOG_DIRTY_PAGES",
            "KVM_MEM_READONLY",
            "KVM_PIT_SPEAKER_DUMMY",
            "KVM_APIC_REG_SIZE",
            "KVM_NR_INTERRUPTS");

    /** Integer macros generated only if the headers define them. */
    static final List<String> OPTIONAL_CONSTANTS = List.of("KVM_MAX_CPUID_ENTRIES");

    /** Every object-like macro with one of these prefixes (function-like ones are not constants). */
    static final List<String> CONSTANT_PREFIXES = List.of(
            "KVM_EXIT_",
            "KVM_INTERNAL_ERROR_",
            "KVM_SYSTEM_EVENT_",
            "KVM_MP_STATE_",
            "KVM_IRQFD_FLAG_",
            "KVM_IOEVENTFD_FLAG_",
            "KVM_CAP_");

    /** Every enumerator with one of these prefixes ({@code KVM_IOEVENTFD_FLAG_*} are defined with them). */
    static final List<String> ENUMERATOR_PREFIXES = List.of("kvm_ioeventfd_flag_nr_");
}
