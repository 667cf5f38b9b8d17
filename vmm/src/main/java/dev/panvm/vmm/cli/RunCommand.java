package dev.panvm.vmm.cli;

import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.Machine;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.legacy.Serial16550;
import dev.panvm.vmm.sandbox.Sandbox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;

/**
 * {@code panvm run}: boots a kernel and runs it until it exits. The VM comes from the flags, or
 * from a {@code --config} file (vmm/CONFIG.md, {@link VmConfigJson}) with the flags given as
 * well overriding its values; {@code --print-config} prints the result instead of booting it.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boot an ELF64 x86_64 kernel (e.g. ferrite) and run it until it exits.",
                "COM1 (16550A at 0x3f8) is connected to the --serial target and to standard input.",
                "The VM can be described in a JSON file (--config, schema in vmm/CONFIG.md); a flag given as well "
                        + "overrides the file's value, and any --disk (or --net) replaces all the file's drives "
                        + "(or network-interfaces)."},
        footerHeading = "%nExit status:%n",
        footer = {"  the guest's exit value (written to port 0xf4), or",
                "  " + RunCommand.EXIT_GUEST_CRASHED + "  the guest crashed (triple fault, emulation failure, ...) or timed out",
                "  " + RunCommand.EXIT_VMM_ERROR + "  the VM could not be built (bad kernel, too little memory, no /dev/kvm, ...)",
                "  2    bad command-line usage or config file"})
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);
    static final int EXIT_GUEST_CRASHED = 124;
    static final int EXIT_VMM_ERROR = 125;

    @Option(names = "--config", paramLabel = "FILE",
            description = {"VM config file (JSON: boot-source, machine-config, drives, network-interfaces, rng, "
                    + "console, serial, limits; see vmm/CONFIG.md). Relative paths in it are relative to its directory."})
    Path configFile;

    @Option(names = "--print-config",
            description = "Print the effective configuration (--config file and flags) as a config file and exit without booting.")
    boolean printConfig;

    @Option(names = "--kernel", paramLabel = "PATH",
            description = "ELF64 kernel image (required, here or as boot-source.kernel_image_path in --config).")
    Path kernel;

    @Option(names = "--cmdline", paramLabel = "S", description = "Kernel command line (default: empty).")
    String cmdline;

    @Option(names = "--mem", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Guest RAM, e.g. 512M or 2G (default: " + VmConfig.DEFAULT_MEMORY + ").")
    Long memory;

    @Option(names = "--cpus", paramLabel = "N", description = "Number of vCPUs (default: 1).")
    Integer cpus;

    @Option(names = "--serial", paramLabel = "stdout|file:PATH", description = "Where COM1 output goes (default: stdout).")
    String serial;

    @Option(names = "--boot", paramLabel = "direct|pvh",
            description = "Entry path: direct 64-bit entry at e_entry, or PVH 32-bit entry (default: direct).")
    String boot;

    @Option(names = "--disk", paramLabel = "PATH[,ro][,io-threads=N]|null:SIZE|none",
            description = {"virtio-blk disk: a raw image (',ro' for read-only; ',io-threads=N': run its requests "
                    + "on N I/O threads, 0 to 64, default 4; 0 runs them one at a time on the device thread), or "
                    + "'null:SIZE', a device that completes requests without media (to measure the block path). "
                    + "Repeatable; replaces the --config file's drives ('none': no drives)."})
    List<String> disks;

    @Option(names = "--net", paramLabel = "tap:NAME[,mac=MAC]|none",
            description = "virtio-net on a TAP interface. Repeatable; replaces the --config file's network-interfaces ('none': no networks).")
    List<String> nets;

    @Option(names = "--rng", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "virtio-rng fed from the host's /dev/urandom ('--rng=false' turns off the --config file's).")
    Boolean rng;

    @Option(names = "--prefault", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "Fault all guest RAM in at start, so the guest's first touch of a page costs no host fault "
                    + "(for benchmarks; default: RAM becomes resident as the guest uses it).")
    Boolean prefault;

    @Option(names = "--console", paramLabel = "unix:PATH|stdio|none",
            description = {"virtio-console with one port (ferrite's control channel with ctl=console): "
                    + "'unix:PATH', a socket panvm listens on (one client at a time; output waits for a client), "
                    + "or 'stdio', panvm's standard input and output (standard input then no longer feeds COM1); "
                    + "'none' turns off the --config file's."})
    String console;

    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "Stop the guest after this many seconds and exit " + EXIT_GUEST_CRASHED + " (default: 0, no limit).")
    Long timeoutSeconds;

    @Option(names = "--no-sandbox",
            description = {"Run without the seccomp sandbox. By default, once the VM is built, panvm confines "
                    + "itself to the system calls a running VM needs (vmm/SANDBOX.md): no new files, sockets or "
                    + "processes. Needs panvm's classes in jars, as scripts/panvm runs them."})
    boolean noSandbox;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * The directory relative paths are relative to: the process's own unless set. A worker of
     * {@code panvm serve} runs in its client's directory but cannot change the JVM's idea of the
     * current directory, which {@code toAbsolutePath} reads, so it sets this instead.
     */
    Path workingDir;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        VmConfig vm;
        try {
            vm = effectiveConfig();
        } catch (ConfigException e) {
            err.println("panvm: " + e.getMessage());
            return e.exitStatus();
        }
        if (printConfig) {
            PrintWriter out = spec.commandLine().getOut();
            out.println(VmConfigJson.write(vm));
            out.flush();
            return 0;
        }
        OutputStream out;
        try {
            out = vm.serialFile().isPresent()
                    ? Files.newOutputStream(vm.serialFile().get())
                    : new FileOutputStream(FileDescriptor.out);
        } catch (IOException e) {
            err.println("panvm: cannot open serial output " + vm.serialFile().get() + ": " + e.getMessage());
            return EXIT_VMM_ERROR;
        }
        MachineConfig config = vm.toMachineConfig(out);
        try (Machine machine = Machine.create(config)) {
            machine.start();
            if (!(vm.console().orElse(null) instanceof ConsoleTarget.Stdio)) {
                startInputPump(System.in, machine.serial());
            }
            if (noSandbox) {
                LOG.info("sandbox: off (--no-sandbox); the VM runs with every system call allowed");
            } else {
                try {
                    Sandbox.install(Sandbox.panvmPolicy());
                } catch (Sandbox.SandboxException e) {
                    err.println("panvm: cannot install the seccomp sandbox: " + e.getMessage()
                            + " (--no-sandbox runs without it)");
                    return EXIT_VMM_ERROR;
                }
            }
            long timeout = vm.timeoutSeconds();
            Duration limit = timeout > 0 ? Duration.ofSeconds(timeout) : Duration.ofDays(3650);
            GuestOutcome outcome = machine.awaitOutcome(limit);
            out.flush();
            return switch (outcome) {
                case GuestOutcome.Exited e -> e.status() & 0xff;
                case GuestOutcome.Crashed c -> {
                    err.println("panvm: guest crashed: " + c.reason());
                    err.println(c.cpuState());
                    yield EXIT_GUEST_CRASHED;
                }
                case GuestOutcome.TimedOut t -> {
                    err.println("panvm: guest did not exit within " + timeout + " s; stopped");
                    yield EXIT_GUEST_CRASHED;
                }
                case GuestOutcome.Stopped s -> {
                    err.println("panvm: VM stopped before the guest ended");
                    yield EXIT_GUEST_CRASHED;
                }
            };
        } catch (MachineException e) {
            err.println("panvm: " + e.getMessage());
            return EXIT_VMM_ERROR;
        } catch (IOException e) {
            err.println("panvm: serial output failed: " + e.getMessage());
            return EXIT_VMM_ERROR;
        }
    }

    /** The defaults, then the --config file's values, then the flags given. */
    VmConfig effectiveConfig() throws ConfigException {
        VmConfig.Builder b = new VmConfig.Builder();
        if (configFile != null) {
            VmConfigJson.read(here(configFile), b);
        }
        applyFlags(b);
        return b.build();
    }

    private void applyFlags(VmConfig.Builder b) throws ConfigException {
        if (kernel != null) {
            b.kernel(here(kernel), "--kernel");
        }
        if (cmdline != null) {
            b.bootArgs(VmConfig.checkBootArgs(cmdline, "--cmdline"));
        }
        if (boot != null) {
            b.boot(VmConfig.parseBoot(boot, "--boot"));
        }
        if (cpus != null) {
            b.vcpus(VmConfig.checkVcpus(cpus, "--cpus"));
        }
        if (memory != null) {
            b.memoryBytes(VmConfig.checkMemory(memory, "--mem"));
        }
        if (disks != null && !disks.isEmpty()) {
            List<VmConfig.Drive> drives = new ArrayList<>();
            if (!isNone(disks, "--disk")) {
                for (String d : disks) {
                    drives.add(parseDisk(d, "disk" + drives.size(), this::here));
                }
            }
            b.drives(drives, Collections.nCopies(drives.size(), "--disk"));
        }
        if (nets != null && !nets.isEmpty()) {
            List<VmConfig.NetIface> ifaces = new ArrayList<>();
            if (!isNone(nets, "--net")) {
                for (String n : nets) {
                    VmConfig.NetIface iface = parseNet(n, "net" + ifaces.size());
                    for (VmConfig.NetIface other : ifaces) {
                        if (other.hostDevName().equals(iface.hostDevName())) {
                            throw ConfigException.usage("--net " + n, "TAP interface '" + iface.hostDevName() + "' already used");
                        }
                        if (iface.guestMac().isPresent() && other.guestMac().equals(iface.guestMac())) {
                            throw ConfigException.usage("--net " + n, "MAC address '" + iface.guestMac().get() + "' already used");
                        }
                    }
                    ifaces.add(iface);
                }
            }
            b.nets(ifaces);
        }
        if (rng != null) {
            b.rng(rng);
        }
        if (prefault != null) {
            b.prefault(prefault);
        }
        if (console != null) {
            b.console(parseConsole(console).map(t -> t instanceof ConsoleTarget.UnixSocket u
                    ? new ConsoleTarget.UnixSocket(here(u.path())) : t));
        }
        if (serial != null) {
            b.serialFile(parseSerial(serial).map(this::here));
        }
        if (timeoutSeconds != null) {
            b.timeoutSeconds(VmConfig.checkTimeout(timeoutSeconds, "--timeout"));
        }
    }

    /** {@code p} resolved against {@link #workingDir}, if one is set. */
    private Path here(Path p) {
        return workingDir == null ? p : workingDir.resolve(p);
    }

    /** True for a lone {@code none}; {@code none} among other values is an error. */
    private static boolean isNone(List<String> values, String flag) throws ConfigException {
        if (!values.contains("none")) {
            return false;
        }
        if (values.size() > 1) {
            throw ConfigException.usage(flag + " none", "'none' cannot be combined with other " + flag + " values");
        }
        return true;
    }

    private static VmConfig.Drive parseDisk(String value, String id, UnaryOperator<Path> here) throws ConfigException {
        if (value.startsWith("null:")) {
            try {
                return new VmConfig.NullDrive(id, new SizeConverter().convert(value.substring(5)));
            } catch (CommandLine.TypeConversionException e) {
                throw ConfigException.usage("--disk " + value, e.getMessage());
            }
        }
        String field = "--disk " + value;
        String[] parts = value.split(",");
        boolean ro = false;
        int ioThreads = VirtioBlk.DEFAULT_IO_THREADS;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].equals("ro")) {
                ro = true;
            } else if (parts[i].startsWith("io-threads=")) {
                ioThreads = VmConfig.checkIoThreads(parseCount(parts[i].substring("io-threads=".length()), field), field);
            } else {
                throw ConfigException.usage(field, "unknown option '" + parts[i] + "' (only 'ro' and 'io-threads=N')");
            }
        }
        if (parts.length == 0 || parts[0].isEmpty()) {
            throw ConfigException.usage(field, "needs a path");
        }
        return new VmConfig.ImageDrive(id, here.apply(Path.of(parts[0])), ro, ioThreads);
    }

    private static long parseCount(String digits, String field) throws ConfigException {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw ConfigException.usage(field, "'" + digits + "' is not a number");
        }
    }

    private static VmConfig.NetIface parseNet(String value, String id) throws ConfigException {
        String[] parts = value.split(",");
        if (parts.length == 0 || !parts[0].startsWith("tap:") || parts[0].length() == 4) {
            throw ConfigException.usage("--net", "must be tap:NAME[,mac=MAC] (or 'none'), not '" + value + "'");
        }
        String field = "--net " + value;
        String name = VmConfig.checkTapName(parts[0].substring(4), field);
        Optional<String> mac = Optional.empty();
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].startsWith("mac=")) {
                throw ConfigException.usage(field, "unknown option '" + parts[i] + "' (only 'mac=')");
            }
            mac = Optional.of(VmConfig.checkMac(parts[i].substring(4), field));
        }
        return new VmConfig.NetIface(id, name, mac);
    }

    private static Optional<ConsoleTarget> parseConsole(String value) throws ConfigException {
        if (value.equals("none")) {
            return Optional.empty();
        }
        try {
            return Optional.of(ConsoleTarget.parse(value));
        } catch (IllegalArgumentException e) {
            throw ConfigException.usage("--console", "must be 'unix:PATH' or 'stdio' (or 'none'), not '" + value + "'");
        }
    }

    private static Optional<Path> parseSerial(String value) throws ConfigException {
        if (value.equals("stdout")) {
            return Optional.empty();
        }
        if (value.startsWith("file:") && value.length() > 5) {
            return Optional.of(Path.of(value.substring(5)));
        }
        throw ConfigException.usage("--serial", "must be 'stdout' or 'file:PATH', not '" + value + "'");
    }

    /** Copies standard input to COM1, holding bytes back while the guest's FIFO is full. */
    private static void startInputPump(InputStream in, Serial16550 uart) {
        Thread.ofPlatform().name("serial-input").daemon().start(() -> {
            byte[] buf = new byte[1];
            try {
                while (in.read(buf) == 1) {
                    while (uart.receiveCapacity() == 0) {
                        Thread.sleep(1);
                    }
                    uart.receive(buf, 1);
                }
            } catch (IOException | InterruptedException e) {
                // stdin closed or the VM is ending: no more input.
            }
        });
    }
}
