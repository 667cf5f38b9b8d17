package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.virtio.DeviceSpec;

import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

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
 * @param prefault   fault all guest RAM in at start (on a background thread), so that the guest's
 *                   first touch of a page costs no host fault: for benchmarks. Without it (the
 *                   default) guest RAM becomes resident only as the guest touches it.
 */
public record MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                            OutputStream serialOut, List<DeviceSpec> devices, boolean prefault) {
    public static final int MAX_CPUS = 64;

    public MachineConfig {
        devices = List.copyOf(devices);
    }

    /** A machine whose RAM is not prefaulted. */
    public MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                         OutputStream serialOut, List<DeviceSpec> devices) {
        this(kernel, cmdline, memoryBytes, cpus, boot, serialOut, devices, false);
    }

    /** A machine without virtio devices, its RAM not prefaulted. */
    public MachineConfig(Path kernel, String cmdline, long memoryBytes, int cpus, BootProtocol boot,
                         OutputStream serialOut) {
        this(kernel, cmdline, memoryBytes, cpus, boot, serialOut, List.of());
    }

    /**
     * A configuration for {@code kernel} with the CLI's defaults: empty command line, 512 MiB,
     * one vCPU, direct entry, serial output discarded, no devices, RAM not prefaulted.
     */
    public static Builder builder(Path kernel) {
        return new Builder(kernel);
    }

    /** Builds a {@link MachineConfig} step by step; devices keep the order they are added in. */
    public static final class Builder {
        private final Path kernel;
        private String cmdline = "";
        private long memoryBytes = 512L << 20;
        private int cpus = 1;
        private BootProtocol boot = BootProtocol.DIRECT;
        private OutputStream serialOut = OutputStream.nullOutputStream();
        private final List<DeviceSpec> devices = new ArrayList<>();
        private boolean prefault;

        private Builder(Path kernel) {
            this.kernel = Objects.requireNonNull(kernel);
        }

        public Builder cmdline(String cmdline) {
            this.cmdline = Objects.requireNonNull(cmdline);
            return this;
        }

        public Builder memoryBytes(long bytes) {
            this.memoryBytes = bytes;
            return this;
        }

        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        public Builder boot(BootProtocol boot) {
            this.boot = Objects.requireNonNull(boot);
            return this;
        }

        /** Where COM1's output goes. */
        public Builder serialOut(OutputStream out) {
            this.serialOut = Objects.requireNonNull(out);
            return this;
        }

        /** A virtio device, after the ones added before. */
        public Builder device(DeviceSpec device) {
            devices.add(Objects.requireNonNull(device));
            return this;
        }

        /** A virtio-blk disk on a raw image. */
        public Builder disk(Path image, boolean readOnly) {
            return device(new DeviceSpec.Disk(image, readOnly));
        }

        /** A virtio-blk disk on a raw image, its requests on {@code ioThreads} I/O threads (0: on the device thread). */
        public Builder disk(Path image, boolean readOnly, int ioThreads) {
            return device(new DeviceSpec.Disk(image, readOnly, ioThreads));
        }

        /** A virtio-console connected to {@code target}. */
        public Builder console(ConsoleTarget target) {
            return device(new DeviceSpec.Console(target));
        }

        /** Fault all guest RAM in at start (see {@link MachineConfig#prefault}). */
        public Builder prefault(boolean on) {
            this.prefault = on;
            return this;
        }

        public MachineConfig build() {
            return new MachineConfig(kernel, cmdline, memoryBytes, cpus, boot, serialOut, devices, prefault);
        }
    }
}
