package dev.panvm.vmm.api;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The kind of KVM this machine offers, named by the kernel module that provides {@code /dev/kvm}.
 * Every figure panvm's tools print carries it: a PVM host (software virtualization, exits cost
 * ~100 us) and hardware KVM give figures that are not comparable.
 */
public enum HostKind {
    PVM("PVM host (kvm_pvm: software virtualization, no VT-x/AMD-V)", "kvm_pvm"),
    INTEL("hardware KVM (Intel VT-x)", "kvm_intel"),
    AMD("hardware KVM (AMD-V)", "kvm_amd"),
    UNKNOWN("KVM of unknown kind", null);

    private final String description;
    private final String module;

    HostKind(String description, String module) {
        this.description = description;
        this.module = module;
    }

    /** This machine's kind: the first of kvm_pvm, kvm_intel, kvm_amd that is loaded. */
    public static HostKind detect() {
        for (HostKind kind : values()) {
            if (kind.module != null && Files.isDirectory(Path.of("/sys/module", kind.module))) {
                return kind;
            }
        }
        return UNKNOWN;
    }

    /** How reports name it, e.g. "hardware KVM (AMD-V)". */
    public String description() {
        return description;
    }
}
