package dev.panvm.vmm.cli;

import dev.panvm.kvm.Kvm;
import dev.panvm.kvm.VcpuFd;
import dev.panvm.kvm.VmFd;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;
import dev.panvm.kvm.sys.ThreadKick;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.vmm.Machine;
import dev.panvm.vmm.boot.ElfLoader;
import dev.panvm.vmm.devices.legacy.Serial16550;
import dev.panvm.vmm.devices.virtio.VirtioMmioSlot;
import dev.panvm.vmm.memory.GuestMemory;
import dev.panvm.vmm.sandbox.SeccompFilter;
import dev.panvm.vmm.sandbox.Sandbox;
import dev.panvm.vmm.serve.RunRequest;
import dev.panvm.vmm.serve.UnixFdSocket;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * One warm process of {@code panvm serve} (vmm/SERVE.md): starts, does what every {@code panvm run}
 * does before it can build a VM (loads and links the classes, parses a command line, creates the
 * libc downcall handles, compiles the sandbox policy), then waits on its own socket in the
 * service's directory for one client. The client hands over its working directory, arguments and
 * standard streams; the worker takes them as its own and runs {@code panvm} exactly as the
 * client's command line asks (the sandbox included), answers {@code exit STATUS}, and ends. Its
 * lines to the service on standard output: {@code ready PATH}, then {@code taken}.
 */
@Command(name = "worker", hidden = true, description = "A warm process of 'panvm serve' (internal).")
final class WorkerCommand implements Callable<Integer> {
    /** Parses of a typical command line before a client comes: enough for C1 to compile them. */
    private static final int PREWARM_PARSES = 50;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The service's directory.")
    Path dir;

    @Override
    public Integer call() throws IOException {
        CommandLine cli = prewarm();
        Path socket = dir.resolve("worker-" + ProcessHandle.current().pid() + ".sock");
        int listening = UnixFdSocket.listen(socket);
        System.out.println("ready " + socket);
        System.out.flush();
        int client;
        try {
            client = UnixFdSocket.accept(listening);
        } finally {
            LibC.close(listening);
            Files.deleteIfExists(socket);
        }
        System.out.println("taken");
        System.out.flush();
        Optional<RunRequest> request = takeOver(client);
        if (request.isEmpty()) {
            return RunCommand.EXIT_VMM_ERROR;
        }
        watchClient(client);
        cli.setOut(new PrintWriter(System.out, true));
        cli.setErr(new PrintWriter(System.err, true));
        ((RunCommand) cli.getSubcommands().get("run").getCommand()).workingDir = Path.of(request.get().cwd());
        int status = cli.execute(request.get().args().toArray(String[]::new));
        System.out.flush();
        System.err.flush();
        UnixFdSocket.writeLine(client, "exit " + status);
        return status;
    }

    /**
     * Reads the request and makes the client's directory and standard streams this process's.
     * A bad request is answered with {@code error MESSAGE} (the client then says so, or falls
     * back to a cold start).
     */
    private static Optional<RunRequest> takeOver(int client) throws ErrnoException {
        int[] fds = new int[0];
        try {
            if (UnixFdSocket.peerUid(client) != UnixFdSocket.uid()) {
                throw new IllegalArgumentException("the client runs as another user");
            }
            UnixFdSocket.Message first = UnixFdSocket.receive(client, 1 << 16);
            fds = first.fds();
            if (fds.length != 3) {
                throw new IllegalArgumentException("expected standard input, output and error beside the request, got "
                        + fds.length + " descriptors");
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            bytes.writeBytes(first.bytes());
            Optional<RunRequest> request;
            while ((request = RunRequest.decode(bytes.toByteArray(), bytes.size())).isEmpty()) {
                byte[] more = UnixFdSocket.read(client, 1 << 16);
                if (more.length == 0) {
                    throw new IllegalArgumentException("the client closed the connection mid-request");
                }
                bytes.writeBytes(more);
            }
            UnixFdSocket.chdir(request.get().cwd());
            for (int i = 0; i < 3; i++) {
                UnixFdSocket.dup2(fds[i], i);
                LibC.close(fds[i]);
            }
            return request;
        } catch (IllegalArgumentException | ErrnoException e) {
            Arrays.stream(fds).forEach(LibC::close);
            UnixFdSocket.writeLine(client, "error " + e.getMessage().replace('\n', ' '));
            return Optional.empty();
        }
    }

    /** A client that goes away (Ctrl-C, kill) ends the run, as the end of a foreground process would. */
    private static void watchClient(int client) {
        Thread.ofPlatform().name("serve-client").daemon().start(() -> {
            try {
                while (UnixFdSocket.read(client, 64).length > 0) {
                    // a client sends nothing after its request
                }
            } catch (ErrnoException e) {
                // the connection broke: the client is gone all the same
            }
            Runtime.getRuntime().halt(RunCommand.EXIT_GUEST_CRASHED);
        });
    }

    /**
     * Does now what a run would do first, and often enough for the JIT to compile the command-line
     * parsing: picocli's model of the command line (kept for the run: picocli resets every option
     * before each parse) and typical parses, the libc downcall handles and the system calls of
     * taking a client over, the classes that build and run a VM, the sandbox policy and its
     * compilation. Nothing here touches /dev/kvm or any file a run names.
     */
    private static CommandLine prewarm() throws ErrnoException {
        CommandLine cli = Panvm.commandLine();
        StringWriter sink = new StringWriter();
        cli.setOut(new PrintWriter(sink));
        cli.setErr(new PrintWriter(sink));
        for (int i = 0; i < PREWARM_PARSES; i++) {
            cli.execute("run", "--print-config", "--kernel", "ferrite", "--cpus", "2", "--mem", "256M",
                    "--disk", "null:1G", "--cmdline", "workload=pipe");
            sink.getBuffer().setLength(0);
        }
        cli.execute("run", "--help");
        LibC.strerror(0);
        UnixFdSocket.uid();
        UnixFdSocket.chdir(Path.of("").toAbsolutePath().toString());
        UnixFdSocket.dup2(2, 2);
        SeccompFilter.compile(Sandbox.panvmPolicy());
        for (Class<?> c : List.of(Machine.class, Kvm.class, VmFd.class, VcpuFd.class, ThreadKick.class,
                GuestMemory.class, ElfLoader.class, Serial16550.class, VirtioMmioSlot.class, VirtioBlk.class)) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader()); // a literal loads; this also initialises
            } catch (ClassNotFoundException e) {
                throw new AssertionError(e);
            }
        }
        return cli;
    }
}
