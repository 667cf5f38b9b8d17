package dev.panvm.vmm.fuzz;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The liveness oracle of the vmm's fuzz targets (the parsers): every call must return within
 * {@link #CALL_LIMIT}. In regression mode (a plain {@code mvn verify}) each input also runs on a
 * worker thread that is given up after {@link #INPUT_LIMIT}, like
 * {@code assertTimeoutPreemptively}, so an endless loop fails the test instead of hanging the
 * build; while fuzzing ({@code JAZZER_FUZZ} set) the input runs inline and libFuzzer's
 * {@code -timeout} (set by {@code scripts/fuzz}) is the watchdog.
 */
public final class Watchdog {
    public static final Duration CALL_LIMIT = Duration.ofSeconds(5);
    public static final Duration INPUT_LIMIT = Duration.ofSeconds(30);
    public static final boolean FUZZING = !System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty();

    private static ExecutorService worker;

    /** An entry point that did not return in bounded time. */
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

    private Watchdog() {
    }

    /** Runs {@code call}, failing if it took longer than {@link #CALL_LIMIT}; its exceptions pass through. */
    public static <T> T call(String what, Call<T> call) throws Throwable {
        long start = System.nanoTime();
        try {
            return call.call();
        } finally {
            long took = System.nanoTime() - start;
            if (took > CALL_LIMIT.toNanos()) {
                throw new LivenessError(what + " took " + took / 1_000_000 + " ms (limit " + CALL_LIMIT.toMillis() + " ms)");
            }
        }
    }

    /** Runs one whole input: inline while fuzzing, else preemptively bounded by {@link #INPUT_LIMIT}. */
    public static void input(Call<?> body) throws Throwable {
        if (FUZZING) {
            body.call();
            return;
        }
        Future<?> f;
        synchronized (Watchdog.class) {
            if (worker == null) {
                worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("fuzz-input").daemon().unstarted(r));
            }
            f = worker.submit(() -> {
                try {
                    body.call();
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
