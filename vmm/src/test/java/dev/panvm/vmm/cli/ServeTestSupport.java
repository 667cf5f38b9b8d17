package dev.panvm.vmm.cli;

import dev.panvm.vmm.JarredClassPath;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A {@code panvm serve} child process and its client, for ServeTest and FerriteServeKvmTest. */
public final class ServeTestSupport {
    private ServeTestSupport() {}

    /** The client scripts/build and scripts/test build (client/). */
    public static final Path CLIENT = Path.of("../client/target/release/panvm-client");

    /** Stops a service started by {@link #startService} (SIGTERM, as Ctrl-C would). */
    public static void stopService(Process service) throws InterruptedException {
        service.destroy();
        assertTrue(service.waitFor(30, TimeUnit.SECONDS), "the service stopped");
    }

    /** Starts a service with one worker in a directory of its own; waits until the worker is ready. */
    public static Process startService(Path serveDir, int workers) throws Exception {
        assertTrue(Files.isExecutable(CLIENT), "panvm-client is not built at " + CLIENT.toAbsolutePath()
                + ": run scripts/build or scripts/test");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED",
                "-cp", JarredClassPath.get(), Panvm.class.getName(), "serve", "--dir", serveDir.toString(),
                "--workers", String.valueOf(workers))
                .redirectErrorStream(true).redirectOutput(serveDir.resolveSibling("serve.log").toFile()).start();
        awaitWorkers(serveDir, workers);
        return p;
    }

    public static void awaitWorkers(Path serveDir, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (workers(serveDir) < n) {
            assertTrue(System.nanoTime() < deadline, "no worker ready in " + serveDir + " within 60 s");
            Thread.sleep(50);
        }
    }

    static long workers(Path serveDir) throws IOException {
        return workerPids(serveDir).size();
    }

    /** The processes of the workers listening in {@code serveDir}, from their sockets' names. */
    public static List<Long> workerPids(Path serveDir) throws IOException {
        if (!Files.isDirectory(serveDir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(serveDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("worker-\\d+\\.sock"))
                    .map(n -> Long.parseLong(n.replaceAll("\\D", ""))).toList();
        }
    }

    public record Result(int status, String out, String err) {}

    /** The client, run in {@code cwd}, its output appended to files that already hold a line. */
    public static Result client(Path cwd, Path serveDir, List<String> options, String... args) throws Exception {
        Path out = Files.writeString(cwd.resolve("out.txt"), "before\n");
        Path err = Files.writeString(cwd.resolve("err.txt"), "before\n");
        List<String> cmd = new ArrayList<>(List.of(CLIENT.toAbsolutePath().toString(), "--dir", serveDir.toString()));
        cmd.addAll(options);
        cmd.add("--");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(err.toFile())).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the client ended");
        String o = Files.readString(out, StandardCharsets.UTF_8);
        String e = Files.readString(err, StandardCharsets.UTF_8);
        assertTrue(o.startsWith("before\n") && e.startsWith("before\n"), "output appended: " + o + e);
        return new Result(p.exitValue(), o.substring(7), e.substring(7));
    }
}
