package dev.panvm.vmm.sandbox;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.RawSyscall;


import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
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
        loadOldVerifier();
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

    /**
     * The JVM loads its old bytecode verifier (libverify) only when it first verifies a class file
     * older than version 50 (picocli's and JMH's are), and finds the library with a {@code stat}
     * the filter refuses: from then on every such class would fail to load ("VerifyError: Could
     * not link verifier"). Defining one such class now, an empty version-49 class built here,
     * makes the JVM load the verifier while it still can; it keeps it for good.
     */
    private static void loadOldVerifier() throws SandboxException {
        String name = "dev/panvm/vmm/sandbox/OldVerifierProbe";
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream c = new java.io.DataOutputStream(out)) {
            c.writeInt(0xCAFEBABE);
            c.writeShort(0);                  // minor version
            c.writeShort(49);                 // major version: Java 5, before stack maps
            c.writeShort(5);                  // constant pool: 4 entries, from 1
            c.writeByte(7);                   // #1 Class #2
            c.writeShort(2);
            c.writeByte(1);                   // #2 Utf8 this class
            c.writeUTF(name);
            c.writeByte(7);                   // #3 Class #4
            c.writeShort(4);
            c.writeByte(1);                   // #4 Utf8 java/lang/Object
            c.writeUTF("java/lang/Object");
            c.writeShort(0x0021);             // ACC_PUBLIC | ACC_SUPER
            c.writeShort(1);                  // this class
            c.writeShort(3);                  // superclass
            c.writeShort(0);                  // no interfaces, fields, methods or attributes
            c.writeShort(0);
            c.writeShort(0);
            c.writeShort(0);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            lookup.ensureInitialized(lookup.defineClass(out.toByteArray()));
        } catch (VerifyError | IllegalAccessException e) {
            throw new SandboxException("cannot load the JVM's old bytecode verifier before the filter: " + e);
        } catch (LinkageError e) {
            // Defined by an earlier install: the verifier is loaded already.
        }
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
