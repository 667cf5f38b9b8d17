package dev.panvm.vmm.serve;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;
import dev.panvm.kvm.sys.RawSyscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Unix-socket calls the service's workers need and Java's channels lack: receiving file
 * descriptors (SCM_RIGHTS, unix(7)), the peer's credentials (SO_PEERCRED), and moving received
 * descriptors onto 0, 1 and 2. Through {@link RawSyscall}: these run before a client arrives or
 * once per run, never on a VM's hot path; reads and writes are {@link LibC}'s. x86_64 Linux
 * layouts (sys/socket.h, sys/un.h).
 */
public final class UnixFdSocket {
    private UnixFdSocket() {}

    private static final long SYS_DUP2 = 33;
    private static final long SYS_SOCKET = 41;
    private static final long SYS_RECVMSG = 47;
    private static final long SYS_BIND = 49;
    private static final long SYS_LISTEN = 50;
    private static final long SYS_GETSOCKOPT = 55;
    private static final long SYS_CHDIR = 80;
    private static final long SYS_GETUID = 102;
    private static final long SYS_ACCEPT4 = 288;

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int SO_PEERCRED = 17;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    /** sizeof(struct sockaddr_un): sa_family_t, then sun_path[108]. */
    private static final int SOCKADDR_UN = 110;
    private static final int SUN_PATH_MAX = 107;
    /** struct msghdr, struct iovec, struct cmsghdr's header. */
    private static final int MSGHDR = 56;
    private static final int IOVEC = 16;
    private static final int CMSGHDR = 16;
    /** Room for 16 descriptors: more than a client sends, so that extras arrive to be closed. */
    private static final int CONTROL = CMSGHDR + 16 * 4;

    /** A listening stream socket bound to {@code path} (which must not exist). */
    public static int listen(Path path) throws ErrnoException {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length > SUN_PATH_MAX) {
            throw new IllegalArgumentException("socket path " + path + " is longer than " + SUN_PATH_MAX + " bytes");
        }
        int fd = (int) RawSyscall.checked("socket(AF_UNIX)", SYS_SOCKET, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = arena.allocate(SOCKADDR_UN);
            addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
            MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
            RawSyscall.checked("bind " + path, SYS_BIND, fd, addr.address(), SOCKADDR_UN);
            RawSyscall.checked("listen " + path, SYS_LISTEN, fd, 8, 0);
            return fd;
        } catch (ErrnoException | RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** The next connection on a listening socket. */
    public static int accept(int listening) throws ErrnoException {
        return (int) RawSyscall.checked("accept4", SYS_ACCEPT4, listening, 0, 0, SOCK_CLOEXEC);
    }

    /** Bytes and the descriptors that came with them. */
    public record Message(byte[] bytes, int[] fds) {}

    /** One recvmsg of at most {@code max} bytes, with any descriptors sent beside them (close-on-exec). */
    public static Message receive(int fd, int max) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(max);
            MemorySegment iov = arena.allocate(IOVEC, 8);
            iov.set(JAVA_LONG, 0, buf.address());
            iov.set(JAVA_LONG, 8, max);
            MemorySegment control = arena.allocate(CONTROL, 8);
            MemorySegment msg = arena.allocate(MSGHDR, 8);
            msg.set(JAVA_LONG, 16, iov.address());
            msg.set(JAVA_LONG, 24, 1);
            msg.set(JAVA_LONG, 32, control.address());
            msg.set(JAVA_LONG, 40, CONTROL);
            int n = (int) RawSyscall.checked("recvmsg", SYS_RECVMSG, fd, msg.address(), MSG_CMSG_CLOEXEC);
            int[] fds = new int[0];
            long controlLen = msg.get(JAVA_LONG, 40);
            if (controlLen >= CMSGHDR && control.get(JAVA_INT, 8) == SOL_SOCKET && control.get(JAVA_INT, 12) == SCM_RIGHTS) {
                int count = (int) ((control.get(JAVA_LONG, 0) - CMSGHDR) / 4);
                fds = new int[count];
                for (int i = 0; i < count; i++) {
                    fds[i] = control.get(JAVA_INT, CMSGHDR + 4L * i);
                }
            }
            if ((msg.get(JAVA_INT, 48) & MSG_CTRUNC) != 0) {
                Arrays.stream(fds).forEach(LibC::close);
                throw new IllegalArgumentException("the client sent more descriptors than fit");
            }
            return new Message(buf.asSlice(0, n).toArray(JAVA_BYTE), fds);
        }
    }

    /** One read of at most {@code max} bytes; an empty array at the end of the stream. */
    public static byte[] read(int fd, int max) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(max);
            long n;
            while ((n = LibC.read(fd, buf)) == -LibC.EINTR) {
                // a signal (the vCPU kick is one) interrupted the wait: wait again
            }
            if (n < 0) {
                throw new ErrnoException("read", (int) -n);
            }
            return buf.asSlice(0, n).toArray(JAVA_BYTE);
        }
    }

    /** Writes a whole line (a newline is added). */
    public static void writeLine(int fd, String line) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment left = arena.allocateFrom(JAVA_BYTE, (line + "\n").getBytes(StandardCharsets.UTF_8));
            while (left.byteSize() > 0) {
                long n = LibC.write(fd, left);
                if (n < 0 && n != -LibC.EINTR) {
                    throw new ErrnoException("write", (int) -n);
                }
                left = left.asSlice(Math.max(n, 0));
            }
        }
    }

    /** The user id of the process at the other end of a connected Unix socket. */
    public static int peerUid(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cred = arena.allocate(12, 4); // struct ucred: pid, uid, gid
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 12);
            RawSyscall.checked("getsockopt(SO_PEERCRED)", SYS_GETSOCKOPT, fd, SOL_SOCKET, SO_PEERCRED, cred.address(),
                    len.address());
            return cred.get(JAVA_INT, 4);
        }
    }

    public static int uid() {
        return (int) RawSyscall.call(SYS_GETUID, 0, 0, 0, 0, 0, 0);
    }

    /** Makes {@code to} refer to what {@code from} refers to (closing what {@code to} was). */
    public static void dup2(int from, int to) throws ErrnoException {
        RawSyscall.checked("dup2", SYS_DUP2, from, to, 0);
    }

    public static void chdir(String dir) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            RawSyscall.checked("chdir " + dir, SYS_CHDIR, arena.allocateFrom(dir).address(), 0, 0);
        }
    }
}
