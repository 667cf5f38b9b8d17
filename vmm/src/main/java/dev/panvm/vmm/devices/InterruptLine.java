package dev.panvm.vmm.devices;

/** An interrupt request line from a device to the interrupt controller. */
@FunctionalInterface
public interface InterruptLine {
    /** Drives the line high (asserted) or low. */
    void set(boolean asserted);
}
