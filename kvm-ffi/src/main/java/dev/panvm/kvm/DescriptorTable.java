package dev.panvm.kvm;

/** A GDTR or IDTR value ({@code struct kvm_dtable}): linear base address and limit. */
public record DescriptorTable(long base, int limit) {}
