package dev.panvm.kvm.sys;

import java.io.IOException;

/**
 * A failed system call: carries the call's name (for ioctls, the ioctl's name) and the errno it
 * returned, so a message reads like {@code KVM_CREATE_VM: Permission denied (errno 13)}.
 */
public class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + ": " + LibC.strerror(errno) + " (errno " + errno + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The system call or ioctl that failed. */
    public String call() {
        return call;
    }

    /** The errno value, as in {@code <errno.h>}. */
    public int errno() {
        return errno;
    }
}
