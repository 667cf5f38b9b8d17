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
}
