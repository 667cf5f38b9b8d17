package dev.panvm.vmm.api;

import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.virtio.DeviceSpec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * The reference VMM: QEMU microvm with KVM, as a child process, built from the same
 * {@link MachineConfig} as a panvm VM. The kernel boots through its PVH entry (QEMU has no
 * direct 64-bit entry; ferrite then starts the other {@code cpus} itself with INIT-SIPI, see
 * guest-kernel/BOOT.md; tested under QEMU TCG, not yet on a KVM or PVM host),
 * COM1 is QEMU's stdio (copied to the config's serial output), the guest ends the VM through
 * {@code isa-debug-exit} at 0xf4 (QEMU exits with {@code (value << 1) | 1}), and virtio-mmio
 * transports are modern (QEMU 7.2 makes them legacy unless told otherwise). An in-process console
 * is a {@code virtconsole} whose socket QEMU connects to.
 */
public final class QemuMicrovm implements RunningVm {
    static final String BINARY = "qemu-system-x86_64";
    private static final int STDERR_TAIL = 8192;

    private final Process qemu;
    private final ControlChannel control;
    private final Path workDir;
    private final ByteArrayOutputStream stderr;

    private QemuMicrovm(Process qemu, ControlChannel control, Path workDir, ByteArrayOutputStream stderr) {
        this.qemu = qemu;
        this.control = control;
        this.workDir = workDir;
        this.stderr = stderr;
    }

    /**
     * The QEMU command line for {@code config}; an in-process console connects to
     * {@code consoleSocket}.
     */
    public static List<String> command(MachineConfig config, Path consoleSocket) throws MachineException {
        List<String> cmd = new ArrayList<>(List.of(BINARY, "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities",
                "-m", (config.memoryBytes() >> 20) + "M", "-smp", Integer.toString(config.cpus()),
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-global", "virtio-mmio.force-legacy=false",
                "-kernel", config.kernel().toString()));
        int n = 0;
        for (DeviceSpec d : config.devices()) {
            cmd.addAll(deviceArgs(d, n++, consoleSocket));
        }
        if (!config.cmdline().isEmpty()) {
            cmd.addAll(List.of("-append", config.cmdline()));
        }
        return cmd;
    }

    /** QEMU's arguments for device {@code d}, the {@code n}th of the configuration. */
    private static List<String> deviceArgs(DeviceSpec d, int n, Path consoleSocket) throws MachineException {
        return switch (d) {
            case DeviceSpec.Disk disk -> List.of("-drive", "id=d" + n + ",file=" + disk.image() + ",format=raw,if=none"
                    + (disk.readOnly() ? ",readonly=on" : ""), "-device", "virtio-blk-device,drive=d" + n);
            case DeviceSpec.NullDisk none -> List.of("-blockdev", "driver=null-co,node-name=d" + n + ",size=" + none.sizeBytes(),
                    "-device", "virtio-blk-device,drive=d" + n);
            case DeviceSpec.Rng r -> List.of("-object", "rng-random,id=rng" + n + ",filename=/dev/urandom",
                    "-device", "virtio-rng-device,rng=rng" + n);
            case DeviceSpec.Tap t -> List.of("-netdev", "tap,id=n" + n + ",ifname=" + t.name() + ",script=no,downscript=no",
                    "-device", "virtio-net-device,netdev=n" + n + t.mac().map(m -> ",mac=" + m).orElse(""));
            case DeviceSpec.Console c -> {
                String chardev = switch (c.target()) {
                    case ConsoleTarget.InProcess p -> "socket,id=c" + n + ",path=" + consoleSocket;
                    case ConsoleTarget.UnixSocket u -> "socket,id=c" + n + ",path=" + u.path() + ",server=on,wait=on";
                    case ConsoleTarget.Stdio s -> throw new MachineException(
                            "a console on stdio is not possible under QEMU here: its stdio is the serial console");
                };
                yield List.of("-device", "virtio-serial-device,max_ports=1", "-chardev", chardev,
                        "-device", "virtconsole,chardev=c" + n);
            }
        };
    }

    static QemuMicrovm start(MachineConfig config, Duration boot) throws MachineException {
        if (!Files.isRegularFile(config.kernel())) {
            throw new MachineException("kernel " + config.kernel() + ": no such file");
        }
        boolean control = config.devices().stream()
                .anyMatch(d -> d instanceof DeviceSpec.Console c && c.target() instanceof ConsoleTarget.InProcess);
        Path workDir = null;
        ServerSocketChannel listener = null;
        Process qemu = null;
        try {
            workDir = Files.createTempDirectory("panvm-qemu");
            Path socket = workDir.resolve("console.sock");
            if (control) {
                listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                listener.bind(UnixDomainSocketAddress.of(socket));
            }
            qemu = new ProcessBuilder(command(config, socket)).start();
            qemu.getOutputStream().close();
            ByteArrayOutputStream stderr = new ByteArrayOutputStream();
            copy(qemu.getInputStream(), config.serialOut(), "qemu-serial");
            copy(qemu.getErrorStream(), stderr, "qemu-stderr");
            ControlChannel channel = null;
            if (control) {
                SocketChannel s = accept(listener, qemu, boot);
                Process p = qemu;
                channel = new ControlChannel("qemu", s, s, () -> describeEnd(p, stderr), s);
                channel.awaitReady(boot);
            }
            return new QemuMicrovm(qemu, channel, workDir, stderr);
        } catch (IOException | TimeoutException e) {
            if (qemu != null) {
                qemu.destroyForcibly();
            }
            deleteWorkDir(workDir);
            throw new MachineException("QEMU: " + e.getMessage(), e);
        } finally {
            if (listener != null) {
                try {
                    listener.close();
                } catch (IOException e) {
                    // only the listening socket; the connection stays
                }
            }
        }
    }

    /** Waits for QEMU to connect its console; fails early if QEMU exits instead. */
    private static SocketChannel accept(ServerSocketChannel listener, Process qemu, Duration timeout)
            throws IOException, TimeoutException {
        CompletableFuture<SocketChannel> connected = CompletableFuture.supplyAsync(() -> {
            try {
                return listener.accept();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, r -> Thread.ofPlatform().daemon().start(r));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                return connected.get(20, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (!qemu.isAlive()) {
                    throw new IOException("QEMU exited (status " + qemu.exitValue() + ") before connecting its console");
                }
            } catch (ExecutionException e) {
                throw new IOException("console socket: " + e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        throw new TimeoutException("QEMU did not connect its console within " + timeout.toMillis() + " ms");
    }

    private static void copy(InputStream in, OutputStream out, String name) {
        Thread.ofPlatform().name(name).daemon().start(() -> {
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (out) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                }
            } catch (IOException e) {
                // QEMU's end of the pipe closed, or the output failed: nothing more to copy
            }
        });
    }

    /** Why the console ended: QEMU closes it as it exits, so give it a moment to finish exiting. */
    private static String describeEnd(Process qemu, ByteArrayOutputStream stderr) {
        try {
            if (!qemu.waitFor(2, TimeUnit.SECONDS)) {
                return "QEMU closed the console but still runs";
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while waiting for QEMU to exit";
        }
        return "QEMU exited: " + outcome(qemu.exitValue(), stderr);
    }

    /** isa-debug-exit makes QEMU exit with {@code (value << 1) | 1}; anything else means the guest did not end it. */
    private static GuestOutcome outcome(int status, ByteArrayOutputStream stderr) {
        if ((status & 1) == 1) {
            return new GuestOutcome.Exited(status >> 1);
        }
        String why = status == 0
                ? "QEMU exited with status 0: the guest shut down without writing the debug-exit port (a triple fault, with -no-reboot)"
                : "QEMU exited with status " + status;
        String err;
        synchronized (stderr) {
            byte[] all = stderr.toByteArray();
            err = new String(all, Math.max(0, all.length - STDERR_TAIL), Math.min(all.length, STDERR_TAIL)).strip();
        }
        return new GuestOutcome.Crashed(why, err);
    }

    @Override
    public String vmm() {
        return Vmm.QEMU.id();
    }

    @Override
    public Optional<ControlChannel> controlChannel() {
        return Optional.ofNullable(control);
    }

    @Override
    public GuestOutcome awaitOutcome(Duration timeout) throws InterruptedException {
        if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            qemu.destroyForcibly().waitFor();
            return new GuestOutcome.TimedOut(timeout.toMillis());
        }
        return outcome(qemu.exitValue(), stderr);
    }

    @Override
    public void close() {
        qemu.destroyForcibly();
        try {
            qemu.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (control != null) {
            control.close();
        }
        deleteWorkDir(workDir);
    }

    private static void deleteWorkDir(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temporary directory left behind; nothing depends on it
        }
    }
}
