package dev.panvm.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The libc calls panvm needs, bound with the Foreign Function and Memory API.
 *
 * <p>Every call that can fail captures {@code errno} through {@link Linker.Option#captureCallState}
 * (reading errno after the call returns would race with the JVM's own libc use) and throws an
 * {@link ErrnoException} naming the call. Only thin wrappers live here; no VMM logic.
 */
public final class LibC {
    private LibC() {}

    // <fcntl.h>, <sys/mman.h>, <sys/eventfd.h>, <poll.h> constants (x86_64 Linux values).
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_NONBLOCK = 0x800;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final int MADV_HUGEPAGE = 14;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;
    public static final short POLLIN = 0x1;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int ENOENT = 2;
    public static final int EACCES = 13;
    public static final int EPERM = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** {@code struct pollfd}. */
    public static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"))
            .withName("pollfd");

    private static final MethodHandle OPEN = errnoCall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    // ioctl(int fd, unsigned long request, ...): the third argument is variadic; both an integer
    // and a pointer are passed in the same register class, so one long-typed handle serves both.
    private static final MethodHandle IOCTL = errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = errnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoCall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MADVISE = errnoCall("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EVENTFD = errnoCall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = errnoCall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errnoCall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle POLL = errnoCall("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = errnoCall("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = errnoCall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = errnoCall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    /** Per-thread scratch area where the linker stores errno right after each call. */
    private static final ThreadLocal<MemorySegment> CALL_STATE_AREA =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CALL_STATE));

    /** One downcall, given the errno-capture area; returns the C result widened to long. */
    @FunctionalInterface
    private interface NativeCall {
        long invoke(MemorySegment callState) throws Throwable;
    }

    /** Runs a call and throws {@link ErrnoException} when it returns a negative value. */
    private static long checked(String name, NativeCall call) throws ErrnoException {
        long r = invokeRaw(call);
        if (r < 0) {
            throw new ErrnoException(name, (int) -r);
        }
        return r;
    }

    /** Runs a call; a negative C result comes back as {@code -errno}. */
    private static long invokeRaw(NativeCall call) {
        MemorySegment state = CALL_STATE_AREA.get();
        long r;
        try {
            r = call.invoke(state);
        } catch (Throwable t) {
            throw new AssertionError("downcall failed", t);
        }
        return r < 0 ? -(int) ERRNO.get(state, 0L) : r;
    }

    /** Like {@link #checked}, but EINTR and EAGAIN come back as {@code -errno} instead of throwing. */
    private static long interruptible(String name, NativeCall call) throws ErrnoException {
        long r = invokeRaw(call);
        if (r < 0 && r != -EINTR && r != -EAGAIN) {
            throw new ErrnoException(name, (int) -r);
        }
        return r;
    }

    /** The C library's message for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment msg = (MemorySegment) STRERROR.invokeExact(errno);
            return msg.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** {@code open(path, flags)}; returns the file descriptor. */
    public static int open(String path, int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            return (int) checked("open " + path, s -> (int) OPEN.invokeExact(s, cPath, flags));
        }
    }

    /** {@code close(fd)}; errors are ignored, as there is nothing a caller could do about them. */
    public static void close(int fd) {
        invokeRaw(s -> (int) CLOSE.invokeExact(s, fd));
    }

    /**
     * {@code ioctl(fd, request, arg)} with an integer (or address) argument.
     *
     * @param name the ioctl's name, for the error message
     * @return the non-negative result
     */
    public static int ioctl(int fd, String name, long request, long arg) throws ErrnoException {
        return (int) checked(name, s -> (int) IOCTL.invokeExact(s, fd, request, arg));
    }

    /** {@code ioctl(fd, request, &struct)}. */
    public static int ioctl(int fd, String name, long request, MemorySegment arg) throws ErrnoException {
        return ioctl(fd, name, request, arg.address());
    }

    /**
     * {@code ioctl} that may be interrupted by a signal: returns {@code -errno} instead of throwing
     * for {@code EINTR} and {@code EAGAIN}, so a run loop can treat a kick as an ordinary event.
     */
    public static int ioctlInterruptible(int fd, String name, long request, long arg) throws ErrnoException {
        return (int) interruptible(name, s -> (int) IOCTL.invokeExact(s, fd, request, arg));
    }

    /** {@code mmap}; returns the mapping as a segment of {@code length} bytes. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws ErrnoException {
        long addr = checked("mmap", s -> ((MemorySegment) MMAP.invokeExact(
                s, MemorySegment.NULL, length, prot, flags, fd, offset)).address());
        return MemorySegment.ofAddress(addr).reinterpret(length);
    }

    /** {@code munmap} of a segment returned by {@link #mmap}. */
    public static void munmap(MemorySegment mapping) throws ErrnoException {
        checked("munmap", s -> (int) MUNMAP.invokeExact(s, mapping, mapping.byteSize()));
    }

    /** {@code madvise} over a whole segment. */
    public static void madvise(MemorySegment mapping, int advice) throws ErrnoException {
        checked("madvise", s -> (int) MADVISE.invokeExact(s, mapping, mapping.byteSize(), advice));
    }

    /** {@code eventfd(initval, flags)}. */
    public static int eventfd(int initval, int flags) throws ErrnoException {
        return (int) checked("eventfd", s -> (int) EVENTFD.invokeExact(s, initval, flags));
    }

    /** {@code read(fd, buf, buf.byteSize())}; returns the count, or -errno for EINTR/EAGAIN. */
    public static long read(int fd, MemorySegment buf) throws ErrnoException {
        return interruptible("read", s -> (long) READ.invokeExact(s, fd, buf, buf.byteSize()));
    }

    /** {@code write(fd, buf, buf.byteSize())}; returns the count, or -errno for EINTR/EAGAIN. */
    public static long write(int fd, MemorySegment buf) throws ErrnoException {
        return interruptible("write", s -> (long) WRITE.invokeExact(s, fd, buf, buf.byteSize()));
    }

    /** {@code epoll_create1(flags)}. */
    public static int epollCreate1(int flags) throws ErrnoException {
        return (int) checked("epoll_create1", s -> (int) EPOLL_CREATE1.invokeExact(s, flags));
    }

    /** {@code epoll_ctl(epfd, op, fd, event)}; {@code event} is a {@code struct epoll_event}. */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws ErrnoException {
        checked("epoll_ctl", s -> (int) EPOLL_CTL.invokeExact(s, epfd, op, fd, event));
    }

    /** {@code epoll_wait}; returns the number of ready events (0 on timeout or EINTR). */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMs) throws ErrnoException {
        long r = interruptible("epoll_wait", s -> (int) EPOLL_WAIT.invokeExact(s, epfd, events, maxEvents, timeoutMs));
        return r < 0 ? 0 : (int) r;
    }

    /** {@code poll(fds, nfds, timeoutMs)} over an array of {@link #POLLFD}; returns the ready count (0 on EINTR). */
    public static int poll(MemorySegment fds, int nfds, int timeoutMs) throws ErrnoException {
        long r = interruptible("poll", s -> (int) POLL.invokeExact(s, fds, (long) nfds, timeoutMs));
        return r < 0 ? 0 : (int) r;
    }

}
