package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;

import java.io.OutputStream;
import java.nio.file.Path;

/**
 * What a VM is made of.
 *
 * @param kernel     ELF64 kernel image
 * @param cmdline    kernel command line
 * @param memoryBytes guest RAM
 * @param cpus       number of vCPUs
 * @param boot       entry path
 * @param serialOut  where COM1's output goes
 */
public record MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                            OutputStream serialOut) {
    public static final int MAX_CPUS = 64;
}
