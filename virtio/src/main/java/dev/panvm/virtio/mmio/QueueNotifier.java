package dev.panvm.virtio.mmio;

import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.queue.Virtqueue;

import java.util.BitSet;

/**
 * What the transport does with an available buffer notification (a QueueNotify write). In the
 * vmm an ioeventfd on the QueueNotify register catches the write inside KVM and wakes the
 * device thread, so the transport never sees it; {@link #direct} runs the device on the
 * calling thread, for tests and for a VMM without ioeventfds.
 */
@FunctionalInterface
public interface QueueNotifier {
    void notifyQueue(int queueIndex);

    /**
     * The device stopped a pass over {@code queueIndex} at its budget with work left
     * ({@link dev.panvm.virtio.DeviceSignals#requeue}): run it again later. Called from inside
     * the pass, so it must not run the queue itself; waking the device thread, as a notification
     * does, is what the vmm's notifier does.
     */
    default void requeue(int queueIndex) {
        notifyQueue(queueIndex);
    }

    /**
     * Processes the queue synchronously on the thread that wrote QueueNotify; passes the device
     * requeued run after the pass that asked, at most {@link Direct#MAX_PASSES} per notification,
     * so a guest whose queue never runs dry cannot keep the notifying thread for ever.
     */
    static QueueNotifier direct(VirtioDevice device) {
        return new Direct(device);
    }

    /** The synchronous notifier: a trampoline instead of recursion for requeued passes. */
    final class Direct implements QueueNotifier {
        /**
         * Passes one notification runs at most (the first included): twice what a full ring of
         * the largest size takes, so only a guest that refills the ring for ever hits it.
         */
        public static final int MAX_PASSES = 2 * Virtqueue.MAX_SIZE / VirtioDeviceBase.DRAIN_BUDGET;

        private final VirtioDevice device;
        /** Queues the device asked to run again, guarded by this. */
        private final BitSet requeued = new BitSet();

        private Direct(VirtioDevice device) {
            this.device = device;
        }

        @Override
        public void notifyQueue(int queueIndex) {
            device.processQueue(queueIndex);
            for (int pass = 1; pass < MAX_PASSES; pass++) {
                int next;
                synchronized (this) {
                    next = requeued.nextSetBit(0);
                    if (next < 0) {
                        return;
                    }
                    requeued.clear(next);
                }
                device.processQueue(next);
            }
        }

        @Override
        public synchronized void requeue(int queueIndex) {
            if (queueIndex >= 0) {
                requeued.set(queueIndex);
            }
        }
    }
}
