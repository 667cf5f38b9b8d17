package dev.panvm.virtio.mock;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * An executor whose tasks run only when the test says, on the test's thread, in the order it
 * picks: out-of-order completion and requests in flight across a reset, without timing.
 */
public final class ManualExecutor implements Executor {
    private final List<Runnable> pending = new ArrayList<>();

    @Override
    public synchronized void execute(Runnable task) {
        pending.add(task);
    }

    /** Tasks submitted and not run yet. */
    public synchronized int pending() {
        return pending.size();
    }

    /** Runs the pending task at {@code index} (0: the oldest). */
    public void run(int index) {
        Runnable task;
        synchronized (this) {
            task = pending.remove(index);
        }
        task.run();
    }

    /** Runs the newest pending task. */
    public void runNewest() {
        run(pending() - 1);
    }

    /** Runs pending tasks, oldest first, until none is left (tasks may submit more). */
    public void runAll() {
        while (pending() > 0) {
            run(0);
        }
    }
}
