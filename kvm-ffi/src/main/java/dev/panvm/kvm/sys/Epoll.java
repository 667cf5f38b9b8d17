package dev.panvm.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * An epoll instance: a device thread waits here for any of its file descriptors (ioeventfds,
 * TAP, a stop eventfd) to become readable. Each registration carries a caller-chosen 64-bit
 * token that {@link #await} hands back.
 */
public final class Epoll implements AutoCloseable {
    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLLIN = 0x1;

    /** {@code struct epoll_event} is packed on x86_64: a u32 mask then the u64 data, 12 bytes. */
    static final StructLayout EPOLL_EVENT = MemoryLayout.structLayout(
            JAVA_INT.withName("events"), JAVA_LONG_UNALIGNED.withName("data")).withName("epoll_event");

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one = arena.allocate(EPOLL_EVENT);
    private final MemorySegment ready;
    private final int maxEvents;

    public Epoll(int maxEvents) throws ErrnoException {
        this.fd = LibC.epollCreate1(EPOLL_CLOEXEC);
        this.maxEvents = maxEvents;
        this.ready = arena.allocate(EPOLL_EVENT.byteSize() * maxEvents, 8);
    }

    /** Watches {@code watched} for readability; {@link #await} reports it as {@code token}. */
    public synchronized void add(int watched, long token) throws ErrnoException {
        one.set(JAVA_INT, 0, EPOLLIN);
        one.set(JAVA_LONG_UNALIGNED, 4, token);
        LibC.epollCtl(fd, EPOLL_CTL_ADD, watched, one);
    }

    public synchronized void remove(int watched) throws ErrnoException {
        LibC.epollCtl(fd, EPOLL_CTL_DEL, watched, one);
    }

    /**
     * Waits up to {@code timeoutMs} (-1: forever) and returns the tokens of the ready
     * descriptors (empty on timeout or signal).
     */
    public long[] await(int timeoutMs) throws ErrnoException {
        int n = LibC.epollWait(fd, ready, maxEvents, timeoutMs);
        long[] tokens = new long[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = ready.get(JAVA_LONG_UNALIGNED, i * EPOLL_EVENT.byteSize() + 4);
        }
        return tokens;
    }

    @Override
    public void close() {
        LibC.close(fd);
        arena.close();
    }
}
