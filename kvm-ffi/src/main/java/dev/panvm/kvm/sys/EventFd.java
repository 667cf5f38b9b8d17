package dev.panvm.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An eventfd: a 64-bit counter the kernel can signal and wait on. panvm uses them as KVM's
 * ioeventfds (a guest's queue notification becomes a counter increment, without a VM exit to
 * the VMM) and irqfds (a write injects an interrupt), and to wake device threads.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final MemorySegment counter = Arena.ofAuto().allocate(JAVA_LONG);

    /** A non-blocking eventfd with counter 0. */
    public EventFd() throws ErrnoException {
        this.fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    }

    public int fd() {
        return fd;
    }

    /** Adds 1 to the counter, waking whoever waits on it. */
    public synchronized void signal() throws ErrnoException {
        counter.set(JAVA_LONG, 0, 1L);
        LibC.write(fd, counter);
    }

    /** Reads and clears the counter; 0 when nothing was signalled since the last read. */
    public synchronized long drain() throws ErrnoException {
        long n = LibC.read(fd, counter);
        return n == JAVA_LONG.byteSize() ? counter.get(JAVA_LONG, 0) : 0;
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
