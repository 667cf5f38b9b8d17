package dev.panvm.vmm.net;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;
import dev.panvm.virtio.net.NetBackend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A TAP network interface (/dev/net/tun, Linux's {@code Documentation/networking/tuntap.rst}) as
 * a virtio-net backend: one read(2) or write(2) per Ethernet frame, straight between the TAP
 * file descriptor and guest memory. Opened with IFF_TAP | IFF_NO_PI and without IFF_VNET_HDR: the
 * device adds and strips the virtio-net header itself.
 */
public final class Tap implements NetBackend {
    private static final String CLONE_DEVICE = "/dev/net/tun";
    /** {@code TUNSETIFF = _IOW('T', 202, int)} from linux/if_tun.h. */
    private static final long TUNSETIFF = 0x400454caL;
    private static final short IFF_TAP = 0x0002;
    private static final short IFF_NO_PI = 0x1000;
    /** {@code struct ifreq}: a 16-byte name, then a union whose first member is the flags. */
    private static final int IFREQ_SIZE = 40;
    private static final int IFNAMSIZ = 16;

    private final int fd;
    private final String name;

    private Tap(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** Attaches to TAP interface {@code name}, creating it if the caller may. */
    public static Tap open(String name) throws IOException {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length == 0 || bytes.length >= IFNAMSIZ) {
            throw new IOException("TAP name '" + name + "' must be 1.." + (IFNAMSIZ - 1) + " characters");
        }
        int fd;
        try {
            fd = LibC.open(CLONE_DEVICE, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        } catch (ErrnoException e) {
            throw new IOException("cannot open " + CLONE_DEVICE + ": " + LibC.strerror(e.errno()), e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ_SIZE, 8);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ifr, 0, bytes.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) (IFF_TAP | IFF_NO_PI));
            LibC.ioctl(fd, "TUNSETIFF", TUNSETIFF, ifr);
        } catch (ErrnoException e) {
            LibC.close(fd);
            throw new IOException("cannot attach to TAP interface " + name + ": " + LibC.strerror(e.errno())
                    + (e.errno() == LibC.EPERM ? " (needs CAP_NET_ADMIN, or a TAP device owned by this user)" : ""), e);
        }
        return new Tap(fd, name);
    }

    public String name() {
        return name;
    }

    @Override
    public int read(MemorySegment dst) throws IOException {
        long n = LibC.read(fd, dst);
        return n < 0 ? 0 : (int) n; // -EAGAIN: no frame waiting
    }

    @Override
    public void write(MemorySegment frame) throws IOException {
        long n = LibC.write(fd, frame);
        if (n >= 0 && n != frame.byteSize()) {
            throw new IOException("TAP " + name + ": short write of " + n + " of " + frame.byteSize() + " bytes");
        }
        // -EAGAIN: the interface's queue is full; the frame is dropped, as a NIC drops it.
    }

    @Override
    public OptionalInt readableFd() {
        return OptionalInt.of(fd);
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
