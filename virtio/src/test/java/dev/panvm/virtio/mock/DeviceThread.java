package dev.panvm.virtio.mock;

import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.mmio.QueueNotifier;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A device thread as the vmm runs one (VirtioMmioSlot): it sleeps until a queue is kicked (the
 * ioeventfd) or requeued by the device, runs that queue, then polls every queue for work, once
 * or, like the vmm's, for a while ({@code poll}) before it sleeps again, and stops when told. Its
 * {@link #notifier()} goes into the transport, so kicks and the device's requeues reach it as
 * they reach the vmm's eventfds.
 */
public final class DeviceThread {
    private final VirtioDevice device;
    private final ConcurrentLinkedQueue<Integer> wakeups = new ConcurrentLinkedQueue<>();
    private final Semaphore signal = new Semaphore(0);
    private final AtomicLong passes = new AtomicLong();
    private final LongSupplier work;
    private final long pollNanos;
    private final AtomicLong maxWorkPerPass = new AtomicLong();
    private volatile boolean stop;
    private volatile boolean busy;
    private final Thread thread;

    public DeviceThread(VirtioDevice device) {
        this(device, () -> 0);
    }

    /** {@code work} counts what the device did (chains handled, say), for {@link #maxWorkPerPass()}. */
    public DeviceThread(VirtioDevice device, LongSupplier work) {
        this(device, work, Duration.ZERO);
    }

    /** A thread that polls the queues for {@code poll} after each wake-up, as the vmm's does. */
    public DeviceThread(VirtioDevice device, Duration poll) {
        this(device, () -> 0, poll);
    }

    private DeviceThread(VirtioDevice device, LongSupplier work, Duration poll) {
        this.device = device;
        this.work = work;
        this.pollNanos = poll.toNanos();
        this.thread = Thread.ofPlatform().name("device-" + device.type()).daemon(true).start(this::run);
    }

    /** A kick or a requeue for queue {@code index}: the eventfd write. */
    public void wake(int index) {
        wakeups.add(index);
        signal.release();
    }

    public QueueNotifier notifier() {
        return this::wake;
    }

    /** Passes over a queue the thread has finished. */
    public long passes() {
        return passes.get();
    }

    /** The most work one {@code processQueue} call did. */
    public long maxWorkPerPass() {
        return maxWorkPerPass.get();
    }

    /** Whether the thread is asleep with nothing to do (every pass finished, no wake-up waiting). */
    public boolean idle() {
        return !busy && wakeups.isEmpty();
    }

    /** Waits until {@link #idle()} or the timeout; returns whether it became idle. */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!idle()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /**
     * Teardown: tells the thread to stop and waits for it at most {@code timeout} (the vmm's
     * join must be bounded too: a backend may never return). Returns whether it ended.
     */
    public boolean stop(Duration timeout) throws InterruptedException {
        stop = true;
        signal.release();
        return thread.join(timeout);
    }

    public Thread thread() {
        return thread;
    }

    private void run() {
        try {
            while (!stop) {
                busy = false;
                if (!signal.tryAcquire(50, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                busy = true;
                Integer q;
                while (!stop && (q = wakeups.poll()) != null) {
                    pass(q);
                }
                long deadline = System.nanoTime() + pollNanos;
                do {
                    for (int i = 0; i < device.queueCount() && !stop; i++) {
                        if (device.hasAvailable(i)) {
                            pass(i);
                        }
                    }
                    Thread.onSpinWait();
                } while (!stop && System.nanoTime() < deadline);
            }
        } catch (InterruptedException e) {
            // stopped
        } finally {
            busy = false;
        }
    }

    private void pass(int queue) {
        long before = work.getAsLong();
        device.processQueue(queue);
        maxWorkPerPass.accumulateAndGet(work.getAsLong() - before, Math::max);
        passes.incrementAndGet();
    }
}
