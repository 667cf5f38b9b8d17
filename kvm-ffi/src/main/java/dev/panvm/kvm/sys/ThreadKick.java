package dev.panvm.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Interrupts a thread blocked in a system call (a vCPU thread in {@code KVM_RUN}) with a
 * real-time signal, the way QEMU and Firecracker kick vCPUs.
 *
 * <p>A signal only interrupts a system call if it has a handler: an ignored signal is discarded
 * before it is pending. The handler installed here is libc's {@code getpid}, a function that
 * ignores its argument and changes nothing, so it serves as a do-nothing handler without any
 * native code of our own (and without running Java code in signal context).
 */
public final class ThreadKick {
    private ThreadKick() {}

    // glibc's struct sigaction on x86_64: handler, 128-byte sa_mask, int flags (+pad), restorer.
    private static final long SIGACTION_SIZE = 152;
    private static final long SA_FLAGS_OFFSET = 136;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PTHREAD_SELF = handle("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle PTHREAD_KILL = handle("pthread_kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SIGACTION = handle("sigaction",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGRTMIN = handle("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));

    /** The signal used for kicks: SIGRTMIN, which the JVM does not use. */
    public static final int SIGNAL = sigrtmin();
    private static boolean installed;

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name)), fd);
    }

    private static int sigrtmin() {
        try {
            return (int) SIGRTMIN.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Installs the do-nothing handler for {@link #SIGNAL}, once per process. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment act = arena.allocate(SIGACTION_SIZE, 8);
            act.set(ADDRESS, 0, LINKER.defaultLookup().find("getpid").orElseThrow());
            act.set(JAVA_INT, SA_FLAGS_OFFSET, 0); // no SA_RESTART: the interrupted call must return EINTR
            int r = (int) SIGACTION.invokeExact(SIGNAL, act, MemorySegment.NULL);
            if (r != 0) {
                throw new IllegalStateException("sigaction(SIGRTMIN) failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        installed = true;
    }

    /** The calling thread's {@code pthread_t}, to be kicked later from another thread. */
    public static long currentThread() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sends the kick signal to {@code thread} (a value from {@link #currentThread}). */
    public static void kick(long thread) {
        try {
            int ignored = (int) PTHREAD_KILL.invokeExact(thread, SIGNAL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
