package dev.panvm.vmm.cli;

import dev.panvm.vmm.serve.UnixFdSocket;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * {@code panvm serve}: keeps warm {@code panvm} processes ({@link WorkerCommand}) waiting, so that
 * a {@code panvm run} through the client ({@code scripts/panvm run} while a service runs) starts
 * without a JVM's start-up. Each worker serves one run and ends; the service starts its
 * replacement as soon as one is taken. Runs until stopped (Ctrl-C, SIGTERM).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Keep warm panvm processes ready, so that 'scripts/panvm run' starts VMs without a JVM's start-up.",
                "Each run still gets a process of its own (and its sandbox); the service starts a new warm one "
                        + "as each is taken. Stop it with Ctrl-C or SIGTERM (runs in progress go on). See vmm/SERVE.md."})
public final class ServeCommand implements Callable<Integer> {
    /** Where scripts/panvm looks, and the service listens when no --dir is given. */
    public static Path defaultDir() {
        String chosen = System.getenv("PANVM_SERVE_DIR");
        if (chosen != null && !chosen.isEmpty()) {
            return Path.of(chosen);
        }
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        return runtime != null && !runtime.isEmpty() ? Path.of(runtime, "panvm")
                : Path.of("/tmp", "panvm-" + UnixFdSocket.uid());
    }

    @Option(names = "--dir", paramLabel = "DIR",
            description = "The service's directory, where workers listen (default: $PANVM_SERVE_DIR, else $XDG_RUNTIME_DIR/panvm, else /tmp/panvm-UID; scripts/panvm run looks there).")
    Path dir;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "1",
            description = "Warm processes kept ready: runs that can start at once (1 to 16, default: ${DEFAULT-VALUE}).")
    int workers;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Workers started and not yet taken: the ones to end when the service stops. */
    private final Set<Process> idle = ConcurrentHashMap.newKeySet();

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (workers < 1 || workers > 16) {
            err.println("panvm serve: --workers: must be between 1 and 16, got " + workers);
            return 2;
        }
        Path d = dir != null ? dir : defaultDir();
        try {
            prepare(d);
        } catch (IOException e) {
            err.println("panvm serve: " + e.getMessage());
            return RunCommand.EXIT_VMM_ERROR;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(d)));
        Semaphore wanted = new Semaphore(workers);
        err.println("panvm serve: keeping " + workers + " warm worker(s) in " + d + " (Ctrl-C to stop)");
        err.flush();
        while (true) {
            wanted.acquire();
            Process p = start(d, err);
            idle.add(p);
            Thread.ofPlatform().name("serve-watch-" + p.pid()).daemon().start(() -> watch(p, wanted, err));
        }
    }

    /** Creates the directory (0700: only this user's clients may connect) and refuses a second service. */
    private static void prepare(Path d) throws IOException {
        Files.createDirectories(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        if (!Files.getPosixFilePermissions(d).equals(PosixFilePermissions.fromString("rwx------"))) {
            throw new IOException(d + " must be accessible to its owner only (chmod 700 " + d + ")");
        }
        Path pid = d.resolve("serve.pid");
        if (Files.exists(pid)) {
            String other = Files.readString(pid).strip();
            if (ProcessHandle.of(Long.parseLong(other)).map(ProcessHandle::isAlive).orElse(false)) {
                throw new IOException("a service already runs in " + d + " (pid " + other + ")");
            }
        }
        try (var stale = Files.newDirectoryStream(d, "worker-*.sock")) {
            for (Path s : stale) {
                Files.deleteIfExists(s); // left by workers of a service that was killed
            }
        }
        Files.writeString(pid, ProcessHandle.current().pid() + "\n");
    }

    /** A worker: this JVM's java, options (the AOT cache among them) and class path. */
    private static Process start(Path d, PrintWriter err) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Panvm.class.getName(), "worker", "--dir", d.toString()));
        return new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /** Follows a worker's lines; when it is taken, or dies before that, a new one is wanted. */
    private void watch(Process p, Semaphore wanted, PrintWriter err) {
        boolean taken = false;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (!taken && (line = lines.readLine()) != null) {
                taken = line.equals("taken");
            }
        } catch (IOException e) {
            // the worker's pipe broke: treat it as gone
        }
        idle.remove(p);
        if (!taken) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
                err.println("panvm serve: worker " + p.pid() + " ended before serving a run (status "
                        + (p.isAlive() ? "?" : p.exitValue()) + "); starting another in 1 s");
                err.flush();
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
        }
        wanted.release();
    }

    /** Ends the idle workers and the service's files; runs in progress go on. */
    private void stop(Path d) {
        for (Process p : idle) {
            p.destroy();
        }
        try {
            Files.deleteIfExists(d.resolve("serve.pid"));
            for (Process p : idle) {
                p.waitFor(2, TimeUnit.SECONDS);
                Files.deleteIfExists(d.resolve("worker-" + p.pid() + ".sock"));
            }
        } catch (IOException | InterruptedException e) {
            // stopping anyway
        }
    }
}
