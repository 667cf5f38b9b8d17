package dev.panvm.vmm.sandbox;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.RawSyscall;


import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * panvm's seccomp sandbox: once a VM is built, the process may make only the system calls its
 * running VM needs (the allow-list in {@code x86_64.policy} beside this class, the one place it is
 * kept). What a guest that escaped a device model could then do is what the vCPU and device
 * threads do anyway: no new files, sockets or processes, no {@code ptrace}, no {@code mount}.
 *
 * <p>Installation is the kernel's {@code seccomp(SECCOMP_SET_MODE_FILTER,
 * SECCOMP_FILTER_FLAG_TSYNC)}: the filter applies to every thread of the process, the JVM's too,
 * and to every thread started later, and cannot be removed. It needs {@code no_new_privs}, which
 * it also sets: no {@code execve} can gain privileges from then on. As Firecracker does, the
 * filter is built and loaded through the system call, with no library beyond libc.
 */
public final class Sandbox {
    private Sandbox() {}

    /** A sandbox that could not be installed: the reason, from the kernel. */
    public static final class SandboxException extends Exception {
        SandboxException(String message) {
            super(message);
        }
    }

    private static final long SYS_PRCTL = 157;
    private static final long SYS_SECCOMP = 317;
    private static final long PR_SET_NO_NEW_PRIVS = 38;
    private static final long SECCOMP_SET_MODE_FILTER = 1;
    private static final long SECCOMP_FILTER_FLAG_TSYNC = 1;

    private static SeccompPolicy panvm;

    /** panvm's own policy: what the JVM and a running VM need, from {@code x86_64.policy}. */
    public static synchronized SeccompPolicy panvmPolicy() {
        if (panvm == null) {
            panvm = SeccompPolicy.fromResource(Sandbox.class, "x86_64.policy");
        }
        return panvm;
    }

    /** Confines this process, every thread of it, to {@code policy}, for the rest of its life. */
    public static void install(SeccompPolicy policy) throws SandboxException {
        if (!"amd64".equals(System.getProperty("os.arch")) || !"Linux".equals(System.getProperty("os.name"))) {
            throw new SandboxException("the seccomp sandbox exists for Linux on x86_64 only");
        }
        prepareClassPath();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fprog = SeccompFilter.toSockFprog(SeccompFilter.compile(policy), arena);
            call("prctl(PR_SET_NO_NEW_PRIVS)", SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0);
            long r = call("seccomp(SECCOMP_SET_MODE_FILTER)", SYS_SECCOMP, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_TSYNC, fprog.address());
            if (r > 0) {
                throw new SandboxException("seccomp: thread " + r + " could not take the filter (it has another one)");
            }
        }
    }

    /**
     * Makes sure the classes the JVM may still load can be loaded once no file may be opened: a
     * class path with a directory is refused (each class in it is a file to open), and every jar
     * is opened now, by looking up a resource that is in none of them (the class loader keeps
     * the jars it opened open; one it never opened could not be opened later).
     */
    private static void prepareClassPath() throws SandboxException {
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (!entry.isEmpty() && Files.isDirectory(Path.of(entry))) {
                throw new SandboxException("class path entry " + entry + " is a directory, whose classes could not be "
                        + "loaded in the sandbox; run panvm from its jar (scripts/panvm)");
            }
        }
        ClassLoader.getSystemClassLoader().getResource("dev/panvm/vmm/sandbox/in-no-jar");
    }

    /** Makes a system call; a failure becomes a SandboxException with the kernel's reason. */
    private static long call(String what, long nr, long a, long b, long c) throws SandboxException {
        try {
            return RawSyscall.checked(what, nr, a, b, c);
        } catch (ErrnoException e) {
            throw new SandboxException(e.getMessage());
        }
    }
}
