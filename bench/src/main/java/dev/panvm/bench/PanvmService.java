package dev.panvm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A {@code panvm serve} for the start-up benchmark ({@code scripts/panvm serve}, with the AOT cache
 * scripts/build trained), in a directory of its own; {@code scripts/panvm run} hands its runs to it
 * through the client when {@link #serve} sets its environment.
 */
final class PanvmService implements AutoCloseable {
    private final Path dir;
    private final Process process;

    private PanvmService(Path dir, Process process) {
        this.dir = dir;
        this.process = process;
    }

    /** Starts a service keeping {@code workers} warm processes; returns once one is ready. */
    static PanvmService start(int workers) throws Exception {
        BenchEnv.panvmClient(); // without it scripts/panvm would quietly take the cold path
        Path dir = Files.createTempDirectory("panvm-serve-bench");
        Files.delete(dir); // the service creates it, 0700
        Process p = new ProcessBuilder(BenchEnv.panvmLauncher().toString(), "serve", "--dir", dir.toString(),
                "--workers", String.valueOf(workers)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        PanvmService s = new PanvmService(dir, p);
        s.awaitReady();
        return s;
    }

    /** Makes {@code scripts/panvm} in {@code pb} hand its run to this service, as it does for a user. */
    void serve(ProcessBuilder pb) {
        pb.environment().remove("PANVM_NO_SERVICE");
        pb.environment().put("PANVM_SERVE_DIR", dir.toString());
    }

    /** Waits until a worker listens (not timed: a replacement takes a JVM start). */
    void awaitReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (nextWorker().isEmpty()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("panvm serve has no worker ready in " + dir);
            }
            Thread.sleep(10);
        }
    }

    /** The worker the client will take: the first socket in name order, as the client tries them. */
    Optional<Long> nextWorker() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("worker-\\d+\\.sock")).sorted()
                    .findFirst().map(n -> Long.parseLong(n.replaceAll("\\D", "")));
        } catch (java.nio.file.NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor(30, TimeUnit.SECONDS);
    }
}
