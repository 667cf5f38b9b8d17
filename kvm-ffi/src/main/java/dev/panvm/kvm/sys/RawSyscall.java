package dev.panvm.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libc's {@code syscall(2)}: any system call by its x86_64 number, through one downcall handle.
 * For the calls panvm makes rarely and off its start-up path (the sandbox, the resident service's
 * socket), where a handle per call would cost more to create (each needs generated code) than
 * all the calls together. Always passes six arguments, unused ones zero, because some calls
 * (prctl) refuse non-zero unused arguments.
 */
public final class RawSyscall {
    private RawSyscall() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    private static final ThreadLocal<MemorySegment> STATE_AREA =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(STATE));

    /** Makes system call {@code nr}; returns its result, or {@code -errno} when it failed. */
    public static long call(long nr, long a, long b, long c, long d, long e, long f) {
        MemorySegment state = STATE_AREA.get();
        long r;
        try {
            r = (long) SYSCALL.invokeExact(state, nr, a, b, c, d, e, f);
        } catch (Throwable t) {
            throw new AssertionError("syscall downcall failed", t);
        }
        return r == -1 ? -(int) ERRNO.get(state, 0L) : r;
    }

    /**
     * System call {@code nr} with up to six arguments (the rest zero); a failure throws an
     * {@link ErrnoException} naming {@code what}.
     */
    public static long checked(String what, long nr, long... args) throws ErrnoException {
        if (args.length > 6) {
            throw new IllegalArgumentException("a system call takes at most six arguments");
        }
        long[] a = java.util.Arrays.copyOf(args, 6);
        long r = call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (r < 0) {
            throw new ErrnoException(what, (int) -r);
        }
        return r;
    }
}
