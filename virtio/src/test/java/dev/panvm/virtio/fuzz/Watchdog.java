package dev.panvm.virtio.fuzz;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The time half of the fuzz targets' liveness oracle, for the device models here and the vmm's
 * parsers (this test-jar is a test dependency of the vmm): every call into the code under test
 * must return within {@link #CALL_LIMIT}. In regression mode (a plain {@code mvn verify}) each
 * input also runs on a worker thread that is given up after {@link #INPUT_LIMIT}, like
 * {@code assertTimeoutPreemptively}, so an endless loop fails the test instead of hanging the
 * build; while fuzzing ({@code JAZZER_FUZZ} set) the input runs inline, for speed, and
 * libFuzzer's {@code -timeout} (set by {@code scripts/fuzz}) is the watchdog.
 *
 * <p>The bounds are generous on purpose: the devices' worst legal case (a notification on a queue
 * whose rings alias so that every pass finds new work: {@code MAX_PASSES} passes of
 * {@code DRAIN_BUDGET} chains) stays two orders of magnitude below them.
 */
public final class Watchdog {
    public static final Duration CALL_LIMIT = Duration.ofSeconds(10);
    public static final Duration INPUT_LIMIT = Duration.ofSeconds(60);
    public static final boolean FUZZING = !System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty();

    private static ExecutorService worker;

    /** Code under test that did not return in bounded time or steps. */
    public static final class LivenessError extends AssertionError {
        private static final long serialVersionUID = 1L;

        public LivenessError(String message) {
            super("liveness: " + message);
        }
    }

    /** A call that may throw a checked exception. */
    @FunctionalInterface
    public interface Call<T> {
        T call() throws Throwable;
    }

    /** An input's body, which may throw a checked exception. */
    @FunctionalInterface
    public interface Body {
        void run() throws Throwable;
    }

    private Watchdog() {
    }

    /** Runs {@code call}, failing if it took longer than {@link #CALL_LIMIT}; its exceptions pass through. */
    public static <T> T call(String what, Call<T> call) throws Throwable {
        long start = System.nanoTime();
        try {
            return call.call();
        } finally {
            checkTook(what, start);
        }
    }

    /** Fails if more than {@link #CALL_LIMIT} passed since {@code startNanos} ({@link System#nanoTime}). */
    static void checkTook(String what, long startNanos) {
        long took = System.nanoTime() - startNanos;
        if (took > CALL_LIMIT.toNanos()) {
            throw new LivenessError(what + " took " + took / 1_000_000 + " ms (limit " + CALL_LIMIT.toMillis() + " ms)");
        }
    }

    /** Runs one whole input: inline while fuzzing, else preemptively bounded by {@link #INPUT_LIMIT}. */
    public static void input(Body body) throws Throwable {
        if (FUZZING) {
            body.run();
            return;
        }
        Future<?> f;
        synchronized (Watchdog.class) {
            if (worker == null) {
                worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("fuzz-input").daemon().unstarted(r));
            }
            f = worker.submit(() -> {
                try {
                    body.run();
                } catch (Exception | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new java.lang.reflect.UndeclaredThrowableException(t);
                }
                return null;
            });
        }
        try {
            f.get(INPUT_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            synchronized (Watchdog.class) {
                worker = null; // the stuck thread is a daemon; later inputs get a fresh one
            }
            throw new LivenessError("input still running after " + INPUT_LIMIT.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw e.getCause();
        }
    }
}
