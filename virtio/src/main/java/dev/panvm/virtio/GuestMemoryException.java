package dev.panvm.virtio;

/** A guest-physical range that is not entirely inside guest RAM. */
public class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(String message) {
        super(message);
    }
}
