package dev.panvm.virtio;

/**
 * How an activated device reaches its driver through the transport: the used buffer and
 * configuration change notifications (virtio 1.2, 2.3) and the DEVICE_NEEDS_RESET status
 * (2.1.1). Safe to call from device threads; implementations never block on the transport's
 * register lock.
 */
public interface DeviceSignals {
    /** The device put buffers into the used ring of {@code queueIndex} and the driver wants to know. */
    void usedBuffers(int queueIndex);

    /** The device configuration space changed. */
    void configChanged();

    /** The device hit an error only a reset recovers from; it stops processing until then. */
    void needsReset();

    /**
     * The device stopped work on queue {@code queueIndex} at its per-pass budget with work left
     * (as Linux vhost's weight limit requeues the virtqueue's poll): {@link VirtioDevice#processQueue}
     * must run again soon, after whatever else is waiting, without a notification from the driver
     * (notifications stay suppressed meanwhile). Never runs the queue before returning: the pass
     * that asked still holds the device.
     */
    void requeue(int queueIndex);
}
