package dev.panvm.vmm.cli;

import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.arch.x86_64.Layout;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.net.MacAddress;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What {@code panvm run} runs: the {@code --config} file's values with the command-line flags
 * applied (see vmm/CONFIG.md). Everything {@link MachineConfig} needs except the open serial
 * stream, plus the run's time limit; {@link VmConfigJson} reads and writes it as JSON.
 *
 * @param kernel         ELF64 kernel image
 * @param bootArgs       kernel command line
 * @param boot           entry path
 * @param vcpus          number of vCPUs
 * @param memoryBytes    guest RAM
 * @param drives         virtio-blk devices, in slot order
 * @param nets           virtio-net devices, after the drives
 * @param rng            a virtio-rng device, after the networks
 * @param console        the virtio-console's host end, last; empty: no console
 * @param serialFile     where COM1's output goes; empty: panvm's standard output
 * @param timeoutSeconds stop the guest after this long; 0: no limit
 * @param prefault       fault all guest RAM in at start (see {@link MachineConfig#prefault})
 */
record VmConfig(Path kernel, String bootArgs, BootProtocol boot, int vcpus, long memoryBytes,
                List<Drive> drives, List<NetIface> nets, boolean rng, Optional<ConsoleTarget> console,
                Optional<Path> serialFile, long timeoutSeconds, boolean prefault) {

    static final String DEFAULT_MEMORY = "512M";
    /** The longest time limit: the "no limit" of a run, about ten years. */
    static final long MAX_TIMEOUT_SECONDS = Duration.ofDays(3650).toSeconds();
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** Linux's IFNAMSIZ less the terminating NUL. */
    private static final int MAX_TAP_NAME = 15;

    VmConfig {
        Objects.requireNonNull(kernel);
        Objects.requireNonNull(bootArgs);
        Objects.requireNonNull(boot);
        drives = List.copyOf(drives);
        nets = List.copyOf(nets);
        Objects.requireNonNull(console);
        Objects.requireNonNull(serialFile);
    }

    /** A virtio-blk device. */
    sealed interface Drive {
        String id();
    }

    /** {@code path_on_host} / {@code --disk PATH[,ro][,io-threads=N]}: a raw image file. */
    record ImageDrive(String id, Path path, boolean readOnly, int ioThreads) implements Drive {}

    /** {@code null_size} / {@code --disk null:SIZE}: completes requests without media. */
    record NullDrive(String id, long sizeBytes) implements Drive {}

    /** {@code network-interfaces} / {@code --net tap:NAME[,mac=MAC]}: virtio-net on a TAP interface. */
    record NetIface(String id, String hostDevName, Optional<String> guestMac) {}

    /** The virtio devices in slot order: drives, networks, entropy, console (as the flags always had them). */
    List<DeviceSpec> deviceSpecs() {
        List<DeviceSpec> specs = new ArrayList<>();
        for (Drive d : drives) {
            specs.add(switch (d) {
                case ImageDrive i -> new DeviceSpec.Disk(i.path(), i.readOnly(), i.ioThreads());
                case NullDrive n -> new DeviceSpec.NullDisk(n.sizeBytes());
            });
        }
        for (NetIface n : nets) {
            specs.add(new DeviceSpec.Tap(n.hostDevName(), n.guestMac()));
        }
        if (rng) {
            specs.add(new DeviceSpec.Rng());
        }
        console.ifPresent(target -> specs.add(new DeviceSpec.Console(target)));
        return specs;
    }

    /** The machine, its COM1 output going to {@code serialOut}. */
    MachineConfig toMachineConfig(OutputStream serialOut) {
        return new MachineConfig(kernel, bootArgs, memoryBytes, vcpus, boot, serialOut, deviceSpecs(), prefault);
    }

    // ---- checks shared by the flags and the config file; `field` names the value in the error ----

    static int checkVcpus(long n, String field) throws ConfigException {
        if (n < 1 || n > MachineConfig.MAX_CPUS) {
            throw ConfigException.invalid(field, "must be between 1 and " + MachineConfig.MAX_CPUS + ", got " + n);
        }
        return (int) n;
    }

    static int checkIoThreads(long n, String field) throws ConfigException {
        if (n < 0 || n > VirtioBlk.MAX_IO_THREADS) {
            throw ConfigException.invalid(field, "must be between 0 and " + VirtioBlk.MAX_IO_THREADS + ", got " + n);
        }
        return (int) n;
    }

    static long checkMemory(long bytes, String field) throws ConfigException {
        if (bytes < Layout.MIN_RAM) {
            throw ConfigException.invalid(field, (bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes") + " is too small; the minimum is "
                    + (Layout.MIN_RAM >> 20) + " MiB");
        }
        return bytes;
    }

    static String checkBootArgs(String s, String field) throws ConfigException {
        if (s.length() > Layout.CMDLINE_MAX) {
            throw ConfigException.invalid(field, s.length() + " bytes; the limit is " + Layout.CMDLINE_MAX);
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c >= 0x7f) {
                throw ConfigException.invalid(field, String.format("must be printable ASCII; character %d is U+%04X", i, (int) c));
            }
        }
        return s;
    }

    static BootProtocol parseBoot(String s, String field) throws ConfigException {
        return switch (s) {
            case "direct" -> BootProtocol.DIRECT;
            case "pvh" -> BootProtocol.PVH;
            default -> throw ConfigException.usage(field, "must be 'direct' or 'pvh', not '" + s + "'");
        };
    }

    static String bootName(BootProtocol p) {
        return p == BootProtocol.PVH ? "pvh" : "direct";
    }

    static long checkTimeout(long seconds, String field) throws ConfigException {
        if (seconds < 0 || seconds > MAX_TIMEOUT_SECONDS) {
            throw ConfigException.usage(field, "must be between 0 (no limit) and " + MAX_TIMEOUT_SECONDS + ", got " + seconds);
        }
        return seconds;
    }

    static String checkId(String id, String field) throws ConfigException {
        if (!ID.matcher(id).matches()) {
            throw ConfigException.usage(field, "'" + id + "' must be 1 to 64 letters, digits, '_', '.' or '-'");
        }
        return id;
    }

    static String checkTapName(String name, String field) throws ConfigException {
        if (name.isEmpty() || name.length() > MAX_TAP_NAME || name.contains("/") || name.chars().anyMatch(c -> c <= 0x20 || c >= 0x7f)) {
            throw ConfigException.usage(field, "'" + name + "' is not an interface name (1 to " + MAX_TAP_NAME
                    + " printable characters, no '/' or spaces)");
        }
        return name;
    }

    /** Six colon-separated hex octets of a unicast address; returned in lower case. */
    static String checkMac(String mac, String field) throws ConfigException {
        MacAddress parsed;
        try {
            parsed = MacAddress.parse(mac);
        } catch (IllegalArgumentException e) {
            throw ConfigException.usage(field, "'" + mac + "' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)");
        }
        if ((parsed.octet(0) & 1) != 0) {
            throw ConfigException.usage(field, "'" + mac + "' is a multicast address; a NIC needs a unicast one (even first octet)");
        }
        return parsed.toString();
    }

    /** An existing file that is not a directory (an image may be a block device). */
    static void checkFile(Path p, String field) throws ConfigException {
        if (!Files.exists(p)) {
            throw ConfigException.invalid(field, p + ": no such file");
        }
        if (Files.isDirectory(p)) {
            throw ConfigException.invalid(field, p + ": is a directory");
        }
    }

    /**
     * Collects the configuration: defaults, then the config file's values, then the flags'.
     * Each setter records the field that set the value, so a check at {@link #build} names it.
     */
    static final class Builder {
        private Path kernel;
        private String kernelField;
        private String bootArgs = "";
        private BootProtocol boot = BootProtocol.DIRECT;
        private int vcpus = 1;
        private long memoryBytes = 512L << 20;
        private List<Drive> drives = List.of();
        private List<String> driveFields = List.of();
        private List<NetIface> nets = List.of();
        private boolean rng;
        private Optional<ConsoleTarget> console = Optional.empty();
        private Optional<Path> serialFile = Optional.empty();
        private long timeoutSeconds;
        private boolean prefault;

        Builder kernel(Path kernel, String field) {
            this.kernel = Objects.requireNonNull(kernel);
            this.kernelField = field;
            return this;
        }

        Builder bootArgs(String s) {
            this.bootArgs = Objects.requireNonNull(s);
            return this;
        }

        Builder boot(BootProtocol p) {
            this.boot = Objects.requireNonNull(p);
            return this;
        }

        Builder vcpus(int n) {
            this.vcpus = n;
            return this;
        }

        Builder memoryBytes(long bytes) {
            this.memoryBytes = bytes;
            return this;
        }

        /** Replaces the drives; {@code fields.get(i)} names drive i's image in errors. */
        Builder drives(List<Drive> drives, List<String> fields) {
            if (drives.size() != fields.size()) {
                throw new IllegalArgumentException("one field name per drive");
            }
            this.drives = List.copyOf(drives);
            this.driveFields = List.copyOf(fields);
            return this;
        }

        /** Replaces the network interfaces. */
        Builder nets(List<NetIface> nets) {
            this.nets = List.copyOf(nets);
            return this;
        }

        Builder rng(boolean on) {
            this.rng = on;
            return this;
        }

        Builder console(Optional<ConsoleTarget> target) {
            this.console = Objects.requireNonNull(target);
            return this;
        }

        Builder serialFile(Optional<Path> file) {
            this.serialFile = Objects.requireNonNull(file);
            return this;
        }

        Builder timeoutSeconds(long s) {
            this.timeoutSeconds = s;
            return this;
        }

        Builder prefault(boolean on) {
            this.prefault = on;
            return this;
        }

        /** The effective configuration, once the files it names exist and the devices fit. */
        VmConfig build() throws ConfigException {
            if (kernel == null) {
                throw ConfigException.usage("kernel", "missing: give --kernel PATH, or boot-source.kernel_image_path in the --config file");
            }
            checkFile(kernel, kernelField);
            for (int i = 0; i < drives.size(); i++) {
                if (drives.get(i) instanceof ImageDrive d) {
                    checkFile(d.path(), driveFields.get(i));
                }
            }
            VmConfig c = new VmConfig(kernel, bootArgs, boot, vcpus, memoryBytes, drives, nets, rng, console,
                    serialFile, timeoutSeconds, prefault);
            int devices = c.deviceSpecs().size();
            if (devices > Layout.VIRTIO_MAX_DEVICES) {
                throw ConfigException.invalid("devices", devices + " virtio devices (drives, network interfaces, rng, console); panvm has "
                        + Layout.VIRTIO_MAX_DEVICES + " slots");
            }
            return c;
        }
    }
}
