package dev.panvm.virtio;

import dev.panvm.virtio.queue.Virtqueue;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A virtio device model, independent of the transport that presents it to the guest
 * (virtio 1.2, chapter 2 "Basic Facilities of a Virtio Device"): its device type, the features
 * it offers, its virtqueues and configuration space, and what it does with the buffers the
 * driver makes available.
 *
 * <p>Lifecycle: the transport negotiates features and sets up queues; on DRIVER_OK it calls
 * {@link #activate}; afterwards {@link #processQueue} runs whenever the driver notifies a queue
 * (on a device thread in the vmm); a device reset calls {@link #reset}; the VMM's teardown calls
 * {@link #shutdown}. Nothing the guest does makes any of these methods throw.
 */
public interface VirtioDevice {

    DeviceType type();

    /** Every feature bit the device offers, the transport's ({@link FeatureBits#TRANSPORT_FEATURES}) included. */
    long features();

    /**
     * Whether the device can work with the features the driver accepted (a subset of
     * {@link #features()} with VIRTIO_F_VERSION_1; the transport checks that much). When false,
     * the transport does not set FEATURES_OK (3.1.1 step 6).
     */
    default boolean acceptsFeatures(long driverFeatures) {
        return true;
    }

    int queueCount();

    /** QueueNumMax of queue {@code index}. */
    int queueMaxSize(int index);

    /** Reads {@code data.byteSize()} bytes of the device configuration space at {@code offset}; bytes beyond it read as 0. */
    void readConfig(long offset, MemorySegment data);

    /** A driver write into the device configuration space; fields the driver may not write are ignored. */
    void writeConfig(long offset, MemorySegment data);

    /**
     * Starts the device with the negotiated features and the transport's queues (inactive ones
     * included: a device uses only {@link Virtqueue#isActive() active} queues).
     *
     * @throws ActivationException if the device cannot run with this setup (a queue it needs is
     *         missing); the transport then sets DEVICE_NEEDS_RESET
     */
    void activate(long negotiatedFeatures, List<Virtqueue> queues, GuestMemory memory, DeviceSignals signals)
            throws ActivationException;

    /** Handles the buffers the driver made available in queue {@code index}. Ignored while not active. */
    void processQueue(int index);

    /**
     * Whether queue {@code index} holds buffers the device has not taken yet: a read of the
     * driver's avail idx and nothing else (no writes to guest memory), so a device thread can
     * poll it cheaply and call {@link #processQueue} only when there is work.
     */
    boolean hasAvailable(int index);

    /**
     * Stops the device and forgets the driver's setup. Waits for a running {@link #processQueue}
     * and for requests the device runs on other threads, but only for a bounded time (a vCPU
     * waits here, holding the transport): if a request in progress is stuck in its backend, the
     * device gives up on it, is marked broken and returns; the stuck request then completes into
     * nothing (no status, used ring entry or notification) and the device refuses activation
     * until it has returned.
     */
    void reset();

    /**
     * Teardown, before the VMM closes the backend: stops the threads the device runs requests
     * on, if it has any, waiting for their requests for a bounded time. Returns false when one
     * is still running (stuck in its backend): it may yet write guest memory, which must then
     * stay mapped.
     */
    boolean shutdown();
}
