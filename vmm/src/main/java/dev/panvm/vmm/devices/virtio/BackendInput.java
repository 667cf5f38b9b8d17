package dev.panvm.vmm.devices.virtio;

import java.util.function.Consumer;

/**
 * How a device's backend wakes the device thread when input arrives on its own (network frames,
 * console bytes), besides the guest's queue notifications.
 */
public sealed interface BackendInput {

    /** The backend has no input of its own (a disk, an entropy source). */
    record None() implements BackendInput {}

    /** {@code fd} becomes readable when input waits; the device thread then runs {@code service}. */
    record Readable(int fd, Runnable service) implements BackendInput {}

    /**
     * Host threads signal input through the wake-up the slot hands to {@code subscribe}; the
     * device thread then runs {@code service}.
     */
    record Signalled(Consumer<Runnable> subscribe, Runnable service) implements BackendInput {}
}
