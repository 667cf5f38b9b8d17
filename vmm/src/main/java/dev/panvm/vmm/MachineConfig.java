package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.virtio.DeviceSpec;

import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * What a VM is made of.
 *
 * @param kernel     ELF64 kernel image
 * @param cmdline    kernel command line
 * @param memoryBytes guest RAM
 * @param cpus       number of vCPUs
 * @param boot       entry path
 * @param serialOut  where COM1's output goes
 * @param devices    virtio devices, in slot order
 */
public record MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                            OutputStream serialOut, List<DeviceSpec> devices) {
    public static final int MAX_CPUS = 64;

    public MachineConfig {
        devices = List.copyOf(devices);
    }

    /** A machine without virtio devices. */
    public MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                         OutputStream serialOut) {
        this(kernel, cmdline, memoryBytes, cpus, boot, serialOut, List.of());
    }
}
