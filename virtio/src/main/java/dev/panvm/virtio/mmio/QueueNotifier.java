package dev.panvm.virtio.mmio;

import dev.panvm.virtio.VirtioDevice;

/**
 * What the transport does with an available buffer notification (a QueueNotify write). In the
 * vmm an ioeventfd on the QueueNotify register catches the write inside KVM and wakes the
 * device thread, so the transport never sees it; {@link #direct} runs the device on the
 * calling thread, for tests and for a VMM without ioeventfds.
 */
@FunctionalInterface
public interface QueueNotifier {
    void notifyQueue(int queueIndex);

    /** Processes the queue synchronously on the thread that wrote QueueNotify. */
    static QueueNotifier direct(VirtioDevice device) {
        return device::processQueue;
    }
}
