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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

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

    /** What the driver set up, as the device runs with it. */
    protected static final class Activation {
        private final long features;
        private final List<Virtqueue> queues;
        private final GuestMemory memory;
        private final DeviceSignals signals;
        private volatile boolean revoked;

        Activation(long features, List<Virtqueue> queues, GuestMemory memory, DeviceSignals signals) {
            this.features = features;
            this.queues = List.copyOf(queues);
            this.memory = memory;
            this.signals = signals;
        }

        public long features() {
            return features;
        }

        public List<Virtqueue> queues() {
            return queues;
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

        long handle(DescriptorChain chain, Activation activation);
    }

    protected final GuestErrorLog guestErrors;
    private final AtomicLong internalErrors = new AtomicLong();
    private final AtomicLong abandonedResets = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock(true);
    // Written under the lock; volatile so that a reset that gave up on the lock can revoke it.
    private volatile Activation activation;
    private volatile boolean failed;
    /** A reset gave up waiting for the lock: the next holder finishes it before anything else. */
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

    /** How long {@link #reset} and {@link #activate} wait for a request in progress. */
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
            throw new ActivationException("device broken: a request from before the last reset is still in its backend");
        }
        try {
            finishPendingReset();
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
            lock.unlock();
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
            lock.unlock();
        }
    }

    /**
     * Waits at most {@link #resetTimeout()} for a request in progress. If it is still running
     * then (a backend that does not return), the reset gives up on it rather than on the vCPU
     * that asked: the setup is revoked, so the request's results go nowhere; the device counts as
     * broken, refusing activation, until the request returns and the next entry point finishes
     * the reset.
     */
    @Override
    public final void reset() {
        if (!lockBounded()) {
            Activation a = activation;
            if (a != null) {
                a.revoke();
            }
            if (!resetPending) {
                resetPending = true;
                abandonedResets.incrementAndGet();
                LOG.error("{}: reset gave up after {} waiting for a request in progress (backend hung?); "
                        + "device broken until it returns", guestErrors.device(), resetTimeout());
            }
            return;
        }
        try {
            resetNow();
        } finally {
            lock.unlock();
        }
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
                internalErrors.incrementAndGet();
                LOG.error("{}: internal error, device needs reset", guestErrors.device(), e);
                fail(a);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code work} holding the device's lock, whether or not the device is active. */
    protected final void locked(Runnable work) {
        lock.lock();
        try {
            finishPendingReset();
            work.run();
        } finally {
            lock.unlock();
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
            lock.unlock();
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
     * used buffer notification for the whole batch if the driver wants it. A handler's
     * {@link ChainHandler#PUT_BACK} ends the pass early, before the notification re-check: the
     * device is not waiting for buffers then, it has nothing to put into them.
     *
     * <p>Bounded: a pass takes at most {@link #DRAIN_BUDGET} chains and re-checks together, then
     * requeues the queue and returns with notifications still suppressed (vhost's weight limit:
     * the device comes back on its own). A driver that keeps the ring full, or rings that alias
     * so that the device's own writes look like new work, hold the device one pass at a time, so
     * a reset or another queue gets in between.
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
                            q.addUsed(chain.headIndex(), written);
                            used++;
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
            if (used > 0 && !a.isRevoked() && q.needsNotification()) {
                a.signals().usedBuffers(queueIndex);
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

    /** With the lock held: completes a reset that gave up earlier, now that nothing runs. */
    private void finishPendingReset() {
        if (resetPending) {
            resetNow();
        }
    }

    private void resetNow() {
        Activation a = activation;
        if (a != null) {
            a.revoke();
        }
        activation = null;
        failed = false;
        resetPending = false;
        onReset();
    }
}
