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
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The device state machine every panvm device shares: inactive until {@link #activate},
 * active until {@link #reset}, and failed (DEVICE_NEEDS_RESET, nothing processed) in between
 * after an error only a reset recovers from. Subclasses supply request handling.
 *
 * <p>All entry points synchronize on the device, so a reset waits for a request in progress and
 * a device thread never sees half an activation. Device threads never take the transport's
 * lock (see {@link DeviceSignals}), so the lock order is always transport, then device.
 */
public abstract class VirtioDeviceBase implements VirtioDevice {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioDeviceBase.class);

    /** What the driver set up, as the device runs with it. */
    protected record Activation(long features, List<Virtqueue> queues, GuestMemory memory, DeviceSignals signals) {
        public Activation {
            queues = List.copyOf(queues);
        }

        public boolean hasFeature(int bit) {
            return FeatureBits.has(features, bit);
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
    private Activation activation;
    private boolean failed;

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

    @Override
    public final synchronized void activate(long negotiatedFeatures, List<Virtqueue> queues, GuestMemory memory,
                                            DeviceSignals signals) throws ActivationException {
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
    }

    @Override
    public final synchronized void processQueue(int index) {
        if (index < 0 || index >= queueCount()) {
            guestErrors.report("bad-queue-index", "notification for queue " + index);
            return;
        }
        runActive(a -> handleQueue(index, a));
    }

    @Override
    public final synchronized boolean hasAvailable(int index) {
        return activation != null && !failed && index >= 0 && index < activation.queues().size()
                && activation.queues().get(index).hasAvailable();
    }

    @Override
    public final synchronized void reset() {
        activation = null;
        failed = false;
        onReset();
    }

    /** Whether the device is active and has not failed. */
    public final synchronized boolean isActive() {
        return activation != null && !failed;
    }

    /** Whether the device stopped after an error, waiting for a reset. */
    public final synchronized boolean hasFailed() {
        return failed;
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
     */
    protected final synchronized void runActive(java.util.function.Consumer<Activation> work) {
        if (activation == null || failed) {
            return;
        }
        try {
            work.accept(activation);
        } catch (RuntimeException e) {
            internalErrors.incrementAndGet();
            LOG.error("{}: internal error, device needs reset", guestErrors.device(), e);
            fail(activation);
        }
    }

    /** Sets DEVICE_NEEDS_RESET and stops processing until the driver resets the device. */
    protected final void fail(Activation a) {
        failed = true;
        a.signals().needsReset();
    }

    /**
     * The usual way through a queue: take every available chain, handle it, return it to the
     * used ring; bad chains go back unused (length 0), a broken queue fails the device. With
     * notifications suppressed while busy and re-checked before returning (2.7.10), and one
     * used buffer notification for the whole batch if the driver wants it. A handler's
     * {@link ChainHandler#PUT_BACK} ends the pass early, before the notification re-check: the
     * device is not waiting for buffers then, it has nothing to put into them.
     */
    protected final void drain(int queueIndex, Activation a, ChainHandler handler) {
        Virtqueue q = a.queues().get(queueIndex);
        if (!q.isActive()) {
            return;
        }
        int used = 0;
        try {
            do {
                q.disableNotification();
                chains:
                while (true) {
                    switch (q.pop()) {
                        case PopResult.Empty e -> {
                            break chains;
                        }
                        case DescriptorChain chain -> {
                            long written = handler.handle(chain, a);
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
            if (used > 0 && q.needsNotification()) {
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
}
