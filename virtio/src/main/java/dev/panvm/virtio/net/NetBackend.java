package dev.panvm.virtio.net;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;

/**
 * Where a virtio-net device's frames come from and go to: a TAP device in the vmm, an in-memory
 * queue in tests. Frames are whole Ethernet frames without a virtio header and without the FCS;
 * buffers are guest memory (or device scratch memory), so a TAP backend reads and writes them
 * with one read(2)/write(2) each, without Java arrays.
 *
 * <p>The device offers neither GSO nor VIRTIO_NET_F_MTU, so frames are at most 1514 bytes, 1518
 * with an 802.1Q tag ({@link VirtioNet#MAX_TX_FRAME}; the device drops bigger ones before they
 * get here): a TAP device behind it keeps MTU 1500.
 */
public interface NetBackend extends AutoCloseable {

    /**
     * Reads the next waiting frame into {@code dst} and returns its length, or 0 when no frame
     * is waiting (never blocks). A frame longer than {@code dst} is truncated, as a TAP read
     * truncates it.
     */
    int read(MemorySegment dst) throws IOException;

    /** Sends one frame, all of {@code frame}. */
    void write(MemorySegment frame) throws IOException;

    /**
     * A file descriptor that becomes readable when {@link #read} has a frame, for the vmm's
     * epoll loop; empty when the backend has none (it is then polled).
     */
    default OptionalInt readableFd() {
        return OptionalInt.empty();
    }

    @Override
    void close() throws IOException;
}
