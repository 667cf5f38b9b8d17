package dev.panvm.virtio;

import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.PopResult;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueueError;
import dev.panvm.virtio.queue.VirtqueueError.ChainError;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The device state machine every panvm device shares: inactive until {@link #activate},
 * active until {@link #reset}, and failed (DEVICE_NEEDS_RESET, nothing processed) in between
 * after an error only a reset recovers from. Subclasses supply request handling.
 *
 * <p>All entry points take the device's lock, so a reset waits for a request in progress and a
 * device thread never sees half an activation. Device threads never take the transport's lock
 * (see {@link DeviceSignals}), so the lock order is always transport, then device. No entry
 * point holds the lock for long: a pass over a queue handles at most {@link #DRAIN_BUDGET}
 * chains, then asks to be run again ({@link DeviceSignals#requeue}); and the entry points a vCPU
 * calls ({@link #reset}, {@link #activate}) wait for it at most {@link #resetTimeout()}, so a
 * backend that hangs costs the guest its device, not its vCPUs. The lock is fair, so a waiting
 * reset gets in between two passes of a busy device thread.
 *
 * <p>Deferred completion: a handler may take a chain off its queue and finish it on another
 * thread (an I/O thread of the block device), so that several requests are in flight at once.
 * It gets a {@link DeferredChain} from {@link #defer}, returns {@link ChainHandler#DEFERRED}, and
 * the other thread finishes the request with {@link #finishDeferred}, in any order (2.7.8: the
 * used ring need not follow the available ring). Those threads never wait for the lock: a
 * finished chain goes into a queue, and whoever holds the lock, or gets it without waiting,
 * returns every finished chain to its used ring before releasing it, with one used buffer
 * notification per queue for the lot (the driver's suppression, EVENT_IDX included, applies as
 * for a drain pass). A reset and {@link #shutdown} wait for deferred chains as they wait for the
 * lock, within the same bound.
 */
public abstract class VirtioDeviceBase implements VirtioDevice {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioDeviceBase.class);

    /**
     * Chains (and notification re-checks) one pass over a queue handles before it yields, as
     * Linux vhost's weight (VHOST_NET_PKT_WEIGHT, VHOST_SCSI_WEIGHT: 256): enough to empty a
     * full default-sized ring in one pass, and a bound on how long a guest that keeps the ring
     * full, or whose rings alias, can hold the device.
     */
    public static final int DRAIN_BUDGET = 256;

    /**
     * How long a reset (a vCPU's Status = 0 write) waits for a request in progress. Linux quiesces
     * its queues before it resets a device, so this only ever runs out on a hung backend.
     */
    public static final Duration DEFAULT_RESET_TIMEOUT = Duration.ofSeconds(2);

    private static final String BROKEN = "device broken: a request from before the last reset is still in its backend";

    /** What the driver set up, as the device runs with it. */
    protected static final class Activation {
        private final long features;
        private final List<Virtqueue> queues;
        private final GuestMemory memory;
        private final DeviceSignals signals;
        /** Per queue: chains deferred and not yet back in the used ring; guarded by the device's lock. */
        private final int[] deferred;
        /** Per queue: a drain pass stopped because every ring entry was deferred; guarded by the lock. */
        private final boolean[] throttled;
        /** Per queue: used entries added since the last notification check; guarded by the lock. */
        private final boolean[] returned;
        private volatile boolean revoked;

        Activation(long features, List<Virtqueue> queues, GuestMemory memory, DeviceSignals signals) {
            this.features = features;
            this.queues = List.copyOf(queues);
            this.memory = memory;
            this.signals = signals;
            this.deferred = new int[queues.size()];
            this.throttled = new boolean[queues.size()];
            this.returned = new boolean[queues.size()];
        }

        public long features() {
            return features;
        }

        public List<Virtqueue> queues() {
            return queues;
        }

        /**
         * Chains of queue {@code queueIndex} deferred ({@link #defer}) and not back in the used
         * ring yet. Read holding the device's lock (in a handler).
         */
        public int deferred(int queueIndex) {
            return deferred[queueIndex];
        }

        public GuestMemory memory() {
            return memory;
        }

        public DeviceSignals signals() {
            return signals;
        }

        public boolean hasFeature(int bit) {
            return FeatureBits.has(features, bit);
        }

        /**
         * Whether a reset ended this setup while a request was still running: the request's
         * results must go nowhere (no status byte, used ring entry or notification), the driver
         * may already have reused its buffers and rings.
         */
        public boolean isRevoked() {
            return revoked;
        }

        void revoke() {
            revoked = true;
        }
    }

    /**
     * Handles one checked chain and returns how many bytes it wrote into the chain's buffers, or
     * {@link #PUT_BACK} when it has nothing for the chain yet.
     */
    @FunctionalInterface
    protected interface ChainHandler {
        /**
         * The chain cannot be used now (a receive buffer and no input waiting): {@link #drain}
         * leaves it in the available ring, first in line, and stops; the device drains again when
         * it has something for it.
         */
        long PUT_BACK = -1;

        /**
         * The handler took the chain with {@link #defer} and another thread returns it through
         * {@link #finishDeferred}: {@link #drain} goes on with the next one.
         */
        long DEFERRED = -2;

        long handle(DescriptorChain chain, Activation activation);
    }

    /**
     * A chain a handler took off its queue to finish on another thread; see {@link #defer}.
     * Finished exactly once, by {@link #finishDeferred}.
     */
    protected static final class DeferredChain {
        private final Activation activation;
        private final int queueIndex;
        private final int headIndex;
        /** The used length; written before the chain is published in the completion queue. */
        private long written;

        private DeferredChain(Activation activation, int queueIndex, int headIndex) {
            this.activation = activation;
            this.queueIndex = queueIndex;
            this.headIndex = headIndex;
        }
    }

    /**
     * Deferred chains handed out and not yet finished, of this setup or one a reset gave up on:
     * what reset and shutdown wait for, and what keeps the device broken after a reset gave up.
     */
    private static final class Outstanding {
        private int count;

        synchronized void add() {
            count++;
        }

        synchronized void remove() {
            if (--count == 0) {
                notifyAll();
            }
        }

        synchronized int count() {
            return count;
        }

        /** Waits until none is left or {@code deadlineNanos} ({@link System#nanoTime}) passes. */
        synchronized boolean awaitNone(long deadlineNanos) {
            while (count > 0) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return count == 0;
                }
            }
            return true;
        }
    }

    protected final GuestErrorLog guestErrors;
    private final AtomicLong internalErrors = new AtomicLong();
    private final AtomicLong abandonedResets = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock(true);
    /** Deferred chains that finished, waiting for a holder of the lock to return them. */
    private final ConcurrentLinkedQueue<DeferredChain> finished = new ConcurrentLinkedQueue<>();
    private final Outstanding outstanding = new Outstanding();
    // Written under the lock; volatile so that a reset that gave up on the lock can revoke it.
    private volatile Activation activation;
    private volatile boolean failed;
    /**
     * A reset gave up on a request in progress (holding the lock, or deferred): the device is
     * broken until it returns; then the next holder of the lock finishes the reset.
     */
    private volatile boolean resetPending;
    private volatile long resetTimeoutNanos = DEFAULT_RESET_TIMEOUT.toNanos();

    private final DeviceType type;
    private final int queueCount;
    private final int queueSize;

    /** A device of {@code type} with {@code queueCount} queues of at most {@code queueSize} entries. */
    protected VirtioDeviceBase(DeviceType type, int queueCount, int queueSize) {
        this.guestErrors = new GuestErrorLog(LoggerFactory.getLogger(getClass()), type.shortName());
        this.type = type;
        this.queueCount = queueCount;
        this.queueSize = queueSize;
    }

    @Override
    public final DeviceType type() {
        return type;
    }

    @Override
    public final int queueCount() {
        return queueCount;
    }

    @Override
    public final int queueMaxSize(int index) {
        return queueSize;
    }

    /** How long {@link #reset}, {@link #activate} and {@link #shutdown} wait for requests in progress. */
    public final Duration resetTimeout() {
        return Duration.ofNanos(resetTimeoutNanos);
    }

    public final void setResetTimeout(Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative reset timeout " + timeout);
        }
        resetTimeoutNanos = timeout.toNanos();
    }

    @Override
    public final void activate(long negotiatedFeatures, List<Virtqueue> queues, GuestMemory memory,
                               DeviceSignals signals) throws ActivationException {
        if (!lockBounded()) {
            throw new ActivationException(BROKEN);
        }
        try {
            finishPendingReset();
            if (resetPending) {
                throw new ActivationException(BROKEN);
            }
            if (activation != null) {
                throw new ActivationException("already active");
            }
            if (queues.size() != queueCount()) {
                throw new ActivationException(queues.size() + " queues for a device with " + queueCount());
            }
            Activation a = new Activation(negotiatedFeatures, queues, memory, signals);
            onActivate(a);
            activation = a;
            failed = false;
        } finally {
            unlock();
        }
    }

    @Override
    public final void processQueue(int index) {
        if (index < 0 || index >= queueCount()) {
            guestErrors.report("bad-queue-index", "notification for queue " + index);
            return;
        }
        runActive(a -> handleQueue(index, a));
    }

    @Override
    public final boolean hasAvailable(int index) {
        lock.lock();
        try {
            finishPendingReset();
            Activation a = activation;
            return a != null && !failed && !a.isRevoked() && index >= 0 && index < a.queues().size()
                    && a.queues().get(index).hasAvailable();
        } finally {
            unlock();
        }
    }

    /**
     * Waits at most {@link #resetTimeout()} for requests in progress: one holding the lock (a
     * handler running in its backend) and deferred ones on other threads. If one is still
     * running then (a backend that does not return), the reset gives up on it rather than on the
     * vCPU that asked: the setup is revoked, so the request's results go nowhere; the device
     * counts as broken, refusing activation, until the request returns and the next entry point
     * (or the request's own completion) finishes the reset.
     */
    @Override
    public final void reset() {
        // After a reset gave up, later ones do not wait again: one stall per hung request.
        long deadline = System.nanoTime() + (resetPending ? 0 : resetTimeoutNanos);
        if (!lockBounded()) {
            Activation a = activation;
            if (a != null) {
                a.revoke();
            }
            abandonReset();
            return;
        }
        try {
            Activation a = activation;
            if (a != null) {
                // From here on deferred requests finish into nothing; those still running may
                // be writing the driver's buffers, so the reset waits for them.
                a.revoke();
            }
            if (!outstanding.awaitNone(deadline)) {
                abandonReset();
            }
            resetNow();
        } finally {
            unlock();
        }
    }

    /**
     * Teardown: waits, at most {@link #resetTimeout()}, for deferred requests after the device
     * stopped taking new ones onto other threads ({@link #onShutdown}). Returns false when one
     * is still running (stuck in its backend): it may yet write guest memory, which must then
     * stay mapped. The device keeps working, with requests on the calling thread.
     */
    @Override
    public final boolean shutdown() {
        long deadline = System.nanoTime() + resetTimeoutNanos;
        onShutdown();
        boolean quiet = outstanding.awaitNone(deadline);
        if (!quiet) {
            LOG.warn("{}: {} requests still in the backend after {} at shutdown", guestErrors.device(),
                    outstanding.count(), resetTimeout());
        }
        return quiet;
    }

    /** Whether the device is active and has not failed. */
    public final boolean isActive() {
        Activation a = activation;
        return a != null && !a.isRevoked() && !failed;
    }

    /** Whether the device stopped after an error, waiting for a reset. */
    public final boolean hasFailed() {
        return failed;
    }

    /**
     * Whether a reset gave up waiting for a request that is still in its backend: the device
     * refuses activation until that request returns.
     */
    public final boolean isBroken() {
        return resetPending;
    }

    /** Deferred chains handed to other threads and not finished yet, of any driver setup. */
    public final int requestsInFlight() {
        return outstanding.count();
    }

    /** How many resets gave up waiting for a request in progress. */
    public final long abandonedResets() {
        return abandonedResets.get();
    }

    /**
     * Device bugs caught at an entry point (an exception that would otherwise have escaped).
     * Tests assert this stays 0 whatever the guest does.
     */
    public final long internalErrors() {
        return internalErrors.get();
    }

    /**
     * Runs {@code work} if the device is active, catching what a device bug might throw: such a
     * bug fails the device (DEVICE_NEEDS_RESET) instead of killing the thread that called.
     * Returns whether the work ran.
     */
    protected final boolean runActive(Consumer<Activation> work) {
        lock.lock();
        try {
            finishPendingReset();
            Activation a = activation;
            if (a == null || failed || a.isRevoked()) {
                return false;
            }
            try {
                work.accept(a);
            } catch (RuntimeException e) {
                internalError(a, e);
            }
            return true;
        } finally {
            unlock();
        }
    }

    /** Runs {@code work} holding the device's lock, whether or not the device is active. */
    protected final void locked(Runnable work) {
        lock.lock();
        try {
            finishPendingReset();
            work.run();
        } finally {
            unlock();
        }
    }

    /**
     * Runs {@code work} holding the device's lock if it can be had within {@link #resetTimeout()}
     * (for entry points a vCPU calls); returns false, having done nothing, otherwise.
     */
    protected final boolean lockedBounded(Runnable work) {
        if (!lockBounded()) {
            return false;
        }
        try {
            finishPendingReset();
            work.run();
            return true;
        } finally {
            unlock();
        }
    }

    /** Sets DEVICE_NEEDS_RESET and stops processing until the driver resets the device. */
    protected final void fail(Activation a) {
        failed = true;
        if (!a.isRevoked()) {
            a.signals().needsReset();
        }
    }

    /**
     * The usual way through a queue: take the available chains, handle them, return them to
     * the used ring; bad chains go back unused (length 0), a broken queue fails the device. With
     * notifications suppressed while busy and re-checked before returning (2.7.10), and one
     * used buffer notification for the whole batch, deferred chains that finished meanwhile
     * included, if the driver wants it. A handler's {@link ChainHandler#PUT_BACK} ends the pass
     * early, before the notification re-check: the device is not waiting for buffers then, it
     * has nothing to put into them. A handler's {@link ChainHandler#DEFERRED} leaves the chain
     * to {@link #finishDeferred}.
     *
     * <p>Bounded: a pass takes at most {@link #DRAIN_BUDGET} chains and re-checks together, then
     * requeues the queue and returns with notifications still suppressed (vhost's weight limit:
     * the device comes back on its own). A driver that keeps the ring full, or rings that alias
     * so that the device's own writes look like new work, hold the device one pass at a time, so
     * a reset or another queue gets in between. Deferred chains are bounded too: with as many in
     * flight as the queue has entries (more than a driver can have, each holds a descriptor),
     * the pass stops, and the next deferred chain to finish requeues the queue.
     */
    protected final void drain(int queueIndex, Activation a, ChainHandler handler) {
        Virtqueue q = a.queues().get(queueIndex);
        if (!q.isActive()) {
            // Broken since the last pass by a check outside pop (hasAvailable's): report it now.
            q.error().ifPresent(e -> queueError(e, a));
            return;
        }
        int used = 0;
        int budget = DRAIN_BUDGET;
        try {
            do {
                q.disableNotification();
                chains:
                while (true) {
                    if (budget-- <= 0) {
                        a.signals().requeue(queueIndex);
                        return;
                    }
                    if (a.deferred[queueIndex] >= q.size()) {
                        a.throttled[queueIndex] = true;
                        return;
                    }
                    switch (q.pop()) {
                        case PopResult.Empty e -> {
                            break chains;
                        }
                        case DescriptorChain chain -> {
                            long written = handler.handle(chain, a);
                            if (a.isRevoked()) {
                                // A reset gave up on this request while it ran: the driver has
                                // moved on, nothing more goes into its memory.
                                return;
                            }
                            if (written == ChainHandler.PUT_BACK) {
                                q.undoPop();
                                return;
                            }
                            if (written != ChainHandler.DEFERRED) {
                                q.addUsed(chain.headIndex(), written);
                                used++;
                            }
                        }
                        case ChainError e -> {
                            chainError(e);
                            q.addUsed(e.headIndex(), 0);
                            used++;
                        }
                        case QueueError e -> {
                            queueError(e, a);
                            return;
                        }
                    }
                }
            } while (q.enableNotification());
        } finally {
            if (used > 0) {
                a.returned[queueIndex] = true;
            }
            returnFinished();
        }
    }

    /**
     * Takes {@code chain}, which a handler of queue {@code queueIndex} is handling, off the drain
     * pass, to be finished on another thread: the handler passes the result to that thread and
     * returns {@link ChainHandler#DEFERRED}. Called by a handler, holding the lock.
     */
    protected final DeferredChain defer(int queueIndex, DescriptorChain chain, Activation a) {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("defer outside a drain pass");
        }
        a.deferred[queueIndex]++;
        outstanding.add();
        return new DeferredChain(a, queueIndex, chain.headIndex());
    }

    /**
     * Finishes a deferred chain, on the calling thread (not holding the lock): runs
     * {@code work}, which handles the request and returns the used length as a
     * {@link ChainHandler} does, and returns the chain to its used ring, now if the lock is free,
     * else through whoever holds it. A device bug {@code work} throws fails the device, as at an
     * entry point, and the chain goes back with length 0. If a reset revoked the chain's setup
     * meanwhile, {@code work} must not write guest memory ({@link Activation#isRevoked}), and the
     * chain goes nowhere.
     */
    protected final void finishDeferred(DeferredChain chain, LongSupplier work) {
        long written = 0;
        try {
            written = work.getAsLong();
        } catch (RuntimeException e) {
            internalError(chain.activation, e);
        } finally {
            chain.written = written;
            finished.add(chain);
            outstanding.remove();
            if (lock.tryLock()) {
                try {
                    finishPendingReset();
                } finally {
                    unlock();
                }
            }
        }
    }

    /** Logs (rate-limited) a driver write into the configuration space that the device ignores. */
    protected final void ignoredConfigWrite(long offset, MemorySegment data) {
        guestErrors.report("config-write", String.format("write of %d bytes at config offset %#x", data.byteSize(), offset));
    }

    /** Logs a bad chain (rate-limited); the caller returns it unused. */
    protected final void chainError(ChainError e) {
        guestErrors.report(e.getClass().getSimpleName(), e.describe());
    }

    /** Logs a broken queue and fails the device. */
    protected final void queueError(VirtqueueError e, Activation a) {
        guestErrors.report(e.getClass().getSimpleName(), e.describe() + "; device needs reset");
        fail(a);
    }

    /** Device-specific checks and start-up; throw to refuse the setup. */
    protected void onActivate(Activation a) throws ActivationException {
    }

    /** Device-specific handling of a notification for queue {@code index}. */
    protected abstract void handleQueue(int index, Activation a);

    /** Device-specific state to drop on reset (the backend stays open). */
    protected void onReset() {
    }

    /**
     * Device-specific teardown, before {@link #shutdown} waits for deferred chains: stop handing
     * requests to other threads (the backend stays open).
     */
    protected void onShutdown() {
    }

    private void internalError(Activation a, RuntimeException e) {
        internalErrors.incrementAndGet();
        LOG.error("{}: internal error, device needs reset", guestErrors.device(), e);
        fail(a);
    }

    /**
     * With the lock held: returns the deferred chains that finished to their used rings, then,
     * for each queue that got used entries (from them or from a drain pass), sends a used buffer
     * notification if the driver wants one. Chains of a revoked setup go nowhere. A finished
     * chain frees a place in flight: a queue throttled for want of one is requeued.
     */
    private void returnFinished() {
        Activation a = activation;
        if (a == null || a.isRevoked()) {
            while (finished.poll() != null) {
                // the driver moved on: nothing more goes into its memory
            }
            return;
        }
        try {
            for (DeferredChain c; (c = finished.poll()) != null; ) {
                if (c.activation != a) {
                    continue;
                }
                int q = c.queueIndex;
                a.deferred[q]--;
                a.queues().get(q).addUsed(c.headIndex, c.written);
                a.returned[q] = true;
                if (a.throttled[q]) {
                    a.throttled[q] = false;
                    a.signals().requeue(q);
                }
            }
            for (int q = 0; q < a.returned.length; q++) {
                if (a.returned[q]) {
                    a.returned[q] = false;
                    if (a.queues().get(q).needsNotification()) {
                        a.signals().usedBuffers(q);
                    }
                }
            }
        } catch (RuntimeException e) {
            internalError(a, e);
        }
    }

    // ---- the lock ----

    /**
     * Takes the lock for a vCPU's entry point: waits at most the reset timeout, and not at all
     * when a reset already gave up on the request that holds it (one stall per hung request,
     * not one per register write).
     */
    private boolean lockBounded() {
        try {
            return resetPending ? lock.tryLock() : lock.tryLock(resetTimeoutNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Releases the lock. The outermost holder first returns the deferred chains that finished
     * while it held it: their threads only try the lock. After letting go it looks once more,
     * for a chain that finished just as it did (whose thread found the lock still taken).
     */
    private void unlock() {
        if (lock.getHoldCount() > 1) {
            lock.unlock();
            return;
        }
        do {
            if (!finished.isEmpty()) {
                returnFinished();
            }
            lock.unlock();
        } while (!finished.isEmpty() && lock.tryLock());
    }

    /** With the lock held: completes a reset that gave up earlier, once nothing of it runs. */
    private void finishPendingReset() {
        if (resetPending && outstanding.count() == 0) {
            resetNow();
        }
    }

    /** Logs and counts a reset that gave up on a request in progress, once per hung request. */
    private void abandonReset() {
        if (!resetPending) {
            resetPending = true;
            abandonedResets.incrementAndGet();
            LOG.error("{}: reset gave up after {} waiting for a request in progress (backend hung?); "
                    + "device broken until it returns", guestErrors.device(), resetTimeout());
        }
    }

    private void resetNow() {
        Activation a = activation;
        if (a != null) {
            a.revoke();
        }
        activation = null;
        failed = false;
        // Broken for as long as a deferred request of the revoked setup still runs.
        resetPending = outstanding.count() > 0;
        onReset();
    }
}
