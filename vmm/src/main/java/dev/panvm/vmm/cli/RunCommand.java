package dev.panvm.vmm.cli;

import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.Machine;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.legacy.Serial16550;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code panvm run}: boots a kernel and runs it until it exits. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Boot an ELF64 x86_64 kernel (e.g. ferrite) and run it until it exits.",
                "COM1 (16550A at 0x3f8) is connected to the --serial target and to standard input."},
        footerHeading = "%nExit status:%n",
        footer = {"  the guest's exit value (written to port 0xf4), or",
                "  " + RunCommand.EXIT_GUEST_CRASHED + "  the guest crashed (triple fault, emulation failure, ...) or timed out",
                "  " + RunCommand.EXIT_VMM_ERROR + "  the VM could not be built (bad kernel, too little memory, no /dev/kvm, ...)",
                "  2    bad command-line usage"})
final class RunCommand implements Callable<Integer> {
    static final int EXIT_GUEST_CRASHED = 124;
    static final int EXIT_VMM_ERROR = 125;

    @Option(names = "--kernel", required = true, paramLabel = "PATH", description = "ELF64 kernel image.")
    Path kernel;

    @Option(names = "--cmdline", paramLabel = "S", defaultValue = "", description = "Kernel command line (default: empty).")
    String cmdline;

    @Option(names = "--mem", paramLabel = "SIZE", defaultValue = "512M", converter = SizeConverter.class,
            description = "Guest RAM, e.g. 512M or 2G (default: ${DEFAULT-VALUE}).")
    long memory;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "Number of vCPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--serial", paramLabel = "stdout|file:PATH", defaultValue = "stdout",
            description = "Where COM1 output goes (default: ${DEFAULT-VALUE}).")
    String serial;

    @Option(names = "--boot", paramLabel = "direct|pvh", defaultValue = "direct",
            description = "Entry path: direct 64-bit entry at e_entry, or PVH 32-bit entry (default: ${DEFAULT-VALUE}).")
    String boot;

    @Option(names = "--disk", paramLabel = "PATH[,ro]|null:SIZE",
            description = {"virtio-blk disk: a raw image (',ro' for read-only), or 'null:SIZE', a device that "
                    + "completes requests without media (to measure the block path). Repeatable."})
    List<String> disks = new ArrayList<>();

    @Option(names = "--net", paramLabel = "tap:NAME[,mac=MAC]", description = "virtio-net on a TAP interface.")
    List<String> nets = new ArrayList<>();

    @Option(names = "--rng", description = "virtio-rng fed from the host's /dev/urandom.")
    boolean rng;

    @Option(names = "--console", paramLabel = "unix:PATH|stdio", converter = ConsoleTargetConverter.class,
            description = {"virtio-console with one port (ferrite's control channel with ctl=console): "
                    + "'unix:PATH', a socket panvm listens on (one client at a time; output waits for a client), "
                    + "or 'stdio', panvm's standard input and output (standard input then no longer feeds COM1)."})
    ConsoleTarget console;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0",
            description = "Stop the guest after this many seconds and exit " + EXIT_GUEST_CRASHED + " (default: no limit).")
    long timeoutSeconds;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        BootProtocol protocol = switch (boot) {
            case "direct" -> BootProtocol.DIRECT;
            case "pvh" -> BootProtocol.PVH;
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "--boot must be 'direct' or 'pvh', not '" + boot + "'");
        };
        OutputStream out;
        try {
            out = openSerial(serial);
        } catch (IOException e) {
            err.println("panvm: cannot open serial output " + serial + ": " + e.getMessage());
            return EXIT_VMM_ERROR;
        }
        MachineConfig config = new MachineConfig(kernel, cmdline, memory, cpus, protocol, out, deviceSpecs());
        try (Machine machine = Machine.create(config)) {
            machine.start();
            if (!(console instanceof ConsoleTarget.Stdio)) {
                startInputPump(System.in, machine.serial());
            }
            Duration limit = timeoutSeconds > 0 ? Duration.ofSeconds(timeoutSeconds) : Duration.ofDays(3650);
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
                    err.println("panvm: guest did not exit within " + timeoutSeconds + " s; stopped");
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

    /** The virtio devices: disks in the order given, then networks, entropy, console. */
    private List<DeviceSpec> deviceSpecs() {
        List<DeviceSpec> specs = new ArrayList<>();
        for (String d : disks) {
            specs.add(parseDisk(d));
        }
        for (String n : nets) {
            specs.add(parseNet(n));
        }
        if (rng) {
            specs.add(new DeviceSpec.Rng());
        }
        if (console != null) {
            specs.add(new DeviceSpec.Console(console));
        }
        return specs;
    }

    private DeviceSpec parseDisk(String value) {
        if (value.startsWith("null:")) {
            try {
                return new DeviceSpec.NullDisk(new SizeConverter().convert(value.substring(5)));
            } catch (CommandLine.TypeConversionException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--disk " + value + ": " + e.getMessage());
            }
        }
        String[] parts = value.split(",");
        boolean ro = false;
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].equals("ro")) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--disk " + value + ": unknown option '" + parts[i] + "' (only 'ro')");
            }
            ro = true;
        }
        if (parts[0].isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--disk needs a path");
        }
        return new DeviceSpec.Disk(Path.of(parts[0]), ro);
    }

    private DeviceSpec parseNet(String value) {
        String[] parts = value.split(",");
        if (!parts[0].startsWith("tap:") || parts[0].length() == 4) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--net must be tap:NAME[,mac=MAC], not '" + value + "'");
        }
        Optional<String> mac = Optional.empty();
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].startsWith("mac=")) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--net " + value + ": unknown option '" + parts[i] + "' (only 'mac=')");
            }
            mac = Optional.of(parts[i].substring(4));
        }
        return new DeviceSpec.Tap(parts[0].substring(4), mac);
    }

    private OutputStream openSerial(String spec) throws IOException {
        if (spec.equals("stdout")) {
            return new FileOutputStream(FileDescriptor.out);
        }
        if (spec.startsWith("file:") && spec.length() > 5) {
            return Files.newOutputStream(Path.of(spec.substring(5)));
        }
        throw new CommandLine.ParameterException(this.spec.commandLine(),
                "--serial must be 'stdout' or 'file:PATH', not '" + spec + "'");
    }

    /** {@code --console} values: a parse error becomes picocli's usage error (exit 2). */
    static final class ConsoleTargetConverter implements CommandLine.ITypeConverter<ConsoleTarget> {
        @Override
        public ConsoleTarget convert(String value) {
            try {
                return ConsoleTarget.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
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
