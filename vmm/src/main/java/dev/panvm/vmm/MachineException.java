package dev.panvm.vmm;

/** A VM that cannot be built from its configuration; the message is one line for the user. */
public class MachineException extends Exception {
    private static final long serialVersionUID = 1L;

    public MachineException(String message) {
        super(message);
    }

    public MachineException(String message, Throwable cause) {
        super(message, cause);
    }
}
