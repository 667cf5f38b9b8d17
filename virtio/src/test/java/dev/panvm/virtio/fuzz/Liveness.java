package dev.panvm.virtio.fuzz;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The liveness oracle of the fuzz targets, on three levels:
 *
 * <ul>
 *   <li>every call into a device or transport (an entry point a guest reaches: a register
 *       access, a notification, a backend event) gets a budget of {@link #ENTRY_ACCESSES} guest
 *       memory accesses ({@link FuzzMemory}) and must return within {@link #ENTRY_LIMIT};
 *   <li>in regression mode (a plain {@code mvn verify}) each whole input runs on a worker thread
 *       and fails preemptively after {@link #INPUT_LIMIT}, as {@code assertTimeoutPreemptively}
 *       would, so a loop that touches no guest memory cannot hang the build;
 *   <li>while fuzzing ({@code JAZZER_FUZZ} set) the input runs inline, for speed, and libFuzzer's
 *       own per-input {@code -timeout} (set by {@code scripts/fuzz}) is the watchdog.
 * </ul>
 *
 * The bounds are generous on purpose: the devices' worst legal case (a notification on a queue
 * whose rings alias so that every pass finds new work: {@code MAX_PASSES} passes of
 * {@code DRAIN_BUDGET} chains) stays two orders of magnitude below them.
 */
final class Liveness {
    static final long ENTRY_ACCESSES = 20_000_000;
    static final Duration ENTRY_LIMIT = Duration.ofSeconds(10);
    static final Duration INPUT_LIMIT = Duration.ofSeconds(60);
    static final boolean FUZZING = !System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty();

    private static ExecutorService worker;

    /** A device or transport that did not return in bounded time or steps. */
    static final class LivenessError extends AssertionError {
        private static final long serialVersionUID = 1L;

        LivenessError(String message) {
            super("liveness: " + message);
        }
    }

    private Liveness() {
    }

    /** Runs one guest-reachable entry point under the step budget and the time bound. */
    static <T> T entry(FuzzMemory memory, String what, Supplier<T> call) {
        long start = System.nanoTime();
        memory.startBudget(ENTRY_ACCESSES);
        try {
            return call.get();
        } finally {
            memory.endBudget();
            long took = System.nanoTime() - start;
            if (took > ENTRY_LIMIT.toNanos()) {
                throw new LivenessError(what + " took " + took / 1_000_000 + " ms (limit " + ENTRY_LIMIT.toMillis() + " ms)");
            }
        }
    }

    static void entry(FuzzMemory memory, String what, Runnable call) {
        entry(memory, what, () -> {
            call.run();
            return null;
        });
    }

    /** Runs one whole input: inline while fuzzing, else preemptively bounded by {@link #INPUT_LIMIT}. */
    static void input(Runnable body) {
        if (FUZZING) {
            body.run();
            return;
        }
        Future<?> f;
        synchronized (Liveness.class) {
            if (worker == null) {
                worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("fuzz-input").daemon().unstarted(r));
            }
            f = worker.submit(body);
        }
        try {
            f.get(INPUT_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            synchronized (Liveness.class) {
                // The stuck thread is abandoned (a daemon); later inputs get a fresh one.
                worker = null;
            }
            throw new LivenessError("input still running after " + INPUT_LIMIT.toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Error err) {
                throw err;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new AssertionError(cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
