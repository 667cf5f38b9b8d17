package dev.panvm.vmm.memory;

/** A guest-physical access outside guest RAM, or with a length that does not fit. */
public class GuestMemoryException extends dev.panvm.virtio.GuestMemoryException {
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(String message) {
        super(message);
    }
}
