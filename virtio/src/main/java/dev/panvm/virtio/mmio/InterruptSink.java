package dev.panvm.virtio.mmio;

/**
 * Where the transport's interrupt goes: the vmm writes an irqfd bound to the device's GSI; tests
 * record the calls. Called from device threads and vCPU threads; must not block for long.
 */
@FunctionalInterface
public interface InterruptSink {
    /**
     * Asserts the device's interrupt; {@code interruptStatusBits} is the InterruptStatus value
     * after the event (bit 0: used buffer, bit 1: configuration change).
     */
    void raise(int interruptStatusBits);
}
