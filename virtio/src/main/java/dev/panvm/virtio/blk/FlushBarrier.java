package dev.panvm.virtio.blk;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs block requests on an executor, several at a time and finishing in any order, except that
 * a FLUSH starts only once every request submitted before it has finished: virtio 1.2, 5.2.6
 * asks a FLUSH to make durable the writes completed before it, and a FLUSH that waits for all
 * earlier submissions covers those whatever the driver's idea of "completed" (Linux waits for
 * the writes' completions before it sends the FLUSH; a simpler driver may not).
 *
 * <p>Requests are grouped into epochs, one per FLUSH: a request joins the open epoch; a FLUSH
 * closes it, opens the next one and joins that (so the next FLUSH waits for this one too), and
 * starts when the last request of the closed epoch finishes. Requests after a FLUSH do not wait
 * for it. No thread ever blocks here.
 *
 * <p>Thread-safe: requests are submitted by the device thread, and finish on the executor's.
 * When the executor refuses a request (shut down), it runs on the submitting thread.
 */
final class FlushBarrier {
    /** The requests of one epoch that have not finished, and the FLUSH that closed it. */
    private static final class Epoch {
        int unfinished;
        Runnable flush;
    }

    private final Executor executor;
    private Epoch open = new Epoch();

    FlushBarrier(Executor executor) {
        this.executor = executor;
    }

    /** Starts a request other than FLUSH. */
    void execute(Runnable request) {
        Epoch e;
        synchronized (this) {
            e = open;
            e.unfinished++;
        }
        dispatch(() -> {
            try {
                request.run();
            } finally {
                finished(e);
            }
        });
    }

    /** Starts {@code flush} once every request submitted before it has finished. */
    void executeFlush(Runnable flush) {
        Runnable start;
        synchronized (this) {
            Epoch closed = open;
            Epoch next = new Epoch();
            next.unfinished = 1;
            open = next;
            closed.flush = () -> {
                try {
                    flush.run();
                } finally {
                    finished(next);
                }
            };
            if (closed.unfinished > 0) {
                return; // the last of them starts it
            }
            start = closed.flush;
        }
        dispatch(start);
    }

    private void finished(Epoch e) {
        Runnable start;
        synchronized (this) {
            if (--e.unfinished > 0 || e.flush == null) {
                return;
            }
            start = e.flush;
        }
        dispatch(start);
    }

    private void dispatch(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            task.run();
        }
    }
}
