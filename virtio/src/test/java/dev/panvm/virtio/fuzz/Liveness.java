package dev.panvm.virtio.fuzz;

import java.util.function.Supplier;

/**
 * The step half of the device fuzz targets' liveness oracle: every call into a device or
 * transport (an entry point a guest reaches: a register access, a notification, a backend event)
 * gets a budget of {@link #ENTRY_ACCESSES} guest memory accesses ({@link FuzzMemory}), besides
 * {@link Watchdog}'s time bound on the call and on the whole input.
 */
final class Liveness {
    static final long ENTRY_ACCESSES = 20_000_000;

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
            Watchdog.checkTook(what, start);
        }
    }

    static void entry(FuzzMemory memory, String what, Runnable call) {
        entry(memory, what, () -> {
            call.run();
            return null;
        });
    }
}
