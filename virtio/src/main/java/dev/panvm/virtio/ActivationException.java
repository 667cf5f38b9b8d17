package dev.panvm.virtio;

/** A device cannot start with the queues and features the driver set up. */
public class ActivationException extends Exception {
    private static final long serialVersionUID = 1L;

    public ActivationException(String message) {
        super(message);
    }
}
