package dev.panvm.vmm.boot;

/** A kernel image that cannot be booted: unreadable, not ELF, wrong machine, or not fitting in RAM. */
public class KernelLoadException extends Exception {
    private static final long serialVersionUID = 1L;

    public KernelLoadException(String message) {
        super(message);
    }

    public KernelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
