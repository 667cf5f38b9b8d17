package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.blk.BlockBackend;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.fuzz.FuzzDriver.Element;
import dev.panvm.virtio.mock.ManualExecutor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-blk's request path under a fuzzed driver: {@link FuzzDriver}'s operations plus whole
 * block requests (header, data or discard/write-zeroes segments, status byte; each stream cut
 * into elements at fuzzed places, with types, sectors and segment fields near the edges) on a
 * medium of fuzzed size (not always a multiple of 512), read-only or not, with or without
 * DISCARD/WRITE_ZEROES, media-less ({@link NullBackend}) or in memory, failing now and then.
 * Two targets: requests executed as the device takes them ({@link #requests}), and requests
 * deferred to I/O threads and finished in a fuzzed order ({@link #deferredRequests}).
 *
 * <p>Oracles beyond the driver's: the backend is only ever asked for bytes inside the exposed
 * capacity, a read-only medium is never written, discarded or zeroed, and discards and write
 * zeroes arrive only when offered and within the advertised per-segment limits.
 */
class VirtioBlkFuzzTest {
    private static final FuzzMemory MEMORY = new FuzzMemory();

    /** Requests executed on the queue's thread, as they are taken (no I/O threads). */
    @FuzzTest
    void requests(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> {
            MEMORY.clear();
            CheckedBackend backend = new CheckedBackend(in);
            VirtioBlk blk = new VirtioBlk(backend, queueSize(in), 0);
            new FuzzDriver(MEMORY, blk, in, 0, d -> blockEvent(d, backend, blk, null)).run();
        });
    }

    /**
     * Requests deferred to an I/O executor whose tasks the input runs, when and in the order it
     * picks, between the driver's moves (resets included, with a zero reset timeout, so that a
     * reset with requests in flight gives up on them at once). At the end every task runs, and
     * the oracles hold after each: out-of-order completion, requests in flight across resets and
     * completions into a revoked setup, deterministically.
     */
    @FuzzTest
    void deferredRequests(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> {
            MEMORY.clear();
            CheckedBackend backend = new CheckedBackend(in);
            ManualExecutor io = new ManualExecutor();
            VirtioBlk blk = new VirtioBlk(backend, queueSize(in), io);
            blk.setResetTimeout(Duration.ZERO);
            FuzzDriver driver = new FuzzDriver(MEMORY, blk, in, 0, d -> blockEvent(d, backend, blk, io));
            driver.run();
            while (io.pending() > 0) {
                driver.entry("the backend finishes a request", () -> io.run(0));
                driver.check();
            }
            assertEquals(0, blk.requestsInFlight());
        });
    }

    private static int queueSize(FuzzedDataProvider in) {
        return in.consumeInt(0, 7) == 0 ? in.pickValue(new int[] {1, 2, 4, 8}) : 16;
    }

    private static void blockEvent(FuzzDriver d, CheckedBackend backend, VirtioBlk blk, ManualExecutor io) {
        FuzzedDataProvider in = d.in;
        switch (in.consumeInt(0, 7)) {
            case 0 -> backend.failEvery = in.consumeInt(0, 3) == 0 ? 0 : in.consumeInt(1, 4);
            case 1, 2 -> {
                if (io != null && io.pending() > 0) {
                    int task = in.consumeInt(0, io.pending() - 1);
                    d.entry("the backend finishes a request", () -> io.run(task));
                } else {
                    request(d, blk.capacity());
                }
            }
            default -> request(d, blk.capacity());
        }
    }

    /** A block request as a chain: the readable stream (header + data) and the writable one (data + status) cut into elements. */
    private static void request(FuzzDriver d, long capacity) {
        FuzzedDataProvider in = d.in;
        int type = switch (in.consumeInt(0, 15)) {
            case 0 -> in.consumeInt();
            case 1 -> in.pickValue(new int[] {BlockRequest.VIRTIO_BLK_T_GET_LIFETIME, BlockRequest.VIRTIO_BLK_T_SECURE_ERASE, 2, 3});
            default -> in.pickValue(new int[] {BlockRequest.VIRTIO_BLK_T_IN, BlockRequest.VIRTIO_BLK_T_OUT,
                    BlockRequest.VIRTIO_BLK_T_FLUSH, BlockRequest.VIRTIO_BLK_T_GET_ID, BlockRequest.VIRTIO_BLK_T_DISCARD,
                    BlockRequest.VIRTIO_BLK_T_WRITE_ZEROES});
        };
        long sector = sector(in, capacity);
        byte[] header = new byte[BlockRequest.HEADER_SIZE];
        MemorySegment h = MemorySegment.ofArray(header);
        LittleEndian.putU32(h, 0, type & 0xffff_ffffL);
        LittleEndian.putU32(h, 4, in.consumeInt(0, 15) == 0 ? in.consumeInt() : 0);
        LittleEndian.putU64(h, 8, sector);

        byte[] readable = header;
        long writableData = 0;
        boolean segments = type == BlockRequest.VIRTIO_BLK_T_DISCARD || type == BlockRequest.VIRTIO_BLK_T_WRITE_ZEROES;
        if (segments) {
            int n = in.consumeInt(0, 10);
            byte[] s = new byte[header.length + 16 * n + (in.consumeInt(0, 15) == 0 ? in.consumeInt(1, 15) : 0)];
            System.arraycopy(header, 0, s, 0, header.length);
            MemorySegment seg = MemorySegment.ofArray(s);
            for (int i = 0; i < n; i++) {
                long at = header.length + 16L * i;
                LittleEndian.putU64(seg, at, sector(in, capacity));
                LittleEndian.putU32(seg, at + 8, in.consumeInt(0, 3) == 0 ? in.consumeLong(0, 0xffff_ffffL) : in.consumeInt(0, 70));
                LittleEndian.putU32(seg, at + 12, in.consumeInt(0, 3) == 0 ? in.consumeLong(0, 0xffff_ffffL) : in.consumeInt(0, 1));
            }
            readable = s;
        } else {
            long data = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 5000) : 512L * in.consumeInt(0, 8);
            if (type == BlockRequest.VIRTIO_BLK_T_OUT) {
                readable = java.util.Arrays.copyOf(header, (int) (header.length + data));
            } else if (type != BlockRequest.VIRTIO_BLK_T_FLUSH || in.consumeInt(0, 7) == 0) {
                writableData = type == BlockRequest.VIRTIO_BLK_T_GET_ID && in.consumeBoolean() ? in.consumeInt(0, 40) : data;
            }
        }
        long status = in.consumeInt(0, 15) == 0 ? in.consumeInt(0, 3) : 1;

        List<Element> elements = new ArrayList<>();
        for (byte[] part : cut(in, readable)) {
            elements.add(d.buffer(part.length, false, part));
        }
        long writable = writableData + status;
        long done = 0;
        for (int pieces = in.consumeInt(1, 3); pieces > 0 && done < writable; pieces--) {
            long n = pieces == 1 ? writable - done : in.consumeLong(0, writable - done);
            elements.add(d.buffer(n, true, new byte[0]));
            done += n;
        }
        d.publishChain(d.queue(), elements.toArray(Element[]::new));
    }

    /** A sector near the start, near or past the end of the medium, or anything. */
    private static long sector(FuzzedDataProvider in, long capacity) {
        return switch (in.consumeInt(0, 7)) {
            case 0 -> in.consumeLong();
            case 1 -> -1L - in.consumeInt(0, 3);
            case 2, 3 -> capacity - 3 + in.consumeInt(0, 5);
            default -> in.consumeLong(0, capacity + 1);
        };
    }

    /** {@code bytes} in 1 to 3 consecutive pieces cut at fuzzed places. */
    private static List<byte[]> cut(FuzzedDataProvider in, byte[] bytes) {
        List<byte[]> parts = new ArrayList<>();
        int from = 0;
        for (int pieces = in.consumeInt(1, 3); pieces > 1 && from < bytes.length; pieces--) {
            int to = in.consumeInt(from, bytes.length);
            parts.add(java.util.Arrays.copyOfRange(bytes, from, to));
            from = to;
        }
        parts.add(java.util.Arrays.copyOfRange(bytes, from, bytes.length));
        return parts;
    }

    /**
     * A medium that checks every request the device makes of it: in memory (at most 64 sectors
     * and a tail), or a {@link NullBackend} behind the same checks.
     */
    static final class CheckedBackend implements BlockBackend {
        private final long size;
        private final long reachable;
        private final boolean readOnly;
        private final boolean discard;
        private final boolean writeZeroes;
        private final BlockBackend nullBackend;
        private final byte[] disk;
        int failEvery;
        private int calls;

        CheckedBackend(FuzzedDataProvider in) {
            size = in.consumeInt(0, 64) * 512L + (in.consumeInt(0, 3) == 0 ? in.consumeInt(1, 511) : 0);
            reachable = size / 512 * 512;
            readOnly = in.consumeInt(0, 3) == 0;
            discard = in.consumeBoolean();
            writeZeroes = in.consumeBoolean();
            int kind = in.consumeInt(0, 3);
            nullBackend = kind == 0 ? new NullBackend(size, in.consumeBoolean()) : null;
            disk = kind == 0 ? null : new byte[(int) size];
            failEvery = in.consumeInt(0, 7) == 0 ? in.consumeInt(1, 4) : 0;
        }

        private void inRange(String what, long offset, long length) throws IOException {
            assertTrue(offset >= 0 && length >= 0 && offset <= reachable && length <= reachable - offset,
                    what + " of " + length + " bytes at " + offset + " outside the " + reachable + " bytes the device exposes");
            if (failEvery > 0 && ++calls % failEvery == 0) {
                throw new IOException("injected failure");
            }
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public boolean isReadOnly() {
            return readOnly;
        }

        @Override
        public String deviceId() {
            return "fuzz-disk-with-a-long-id";
        }

        @Override
        public long read(long offset, MemorySegment dst) throws IOException {
            inRange("read", offset, dst.byteSize());
            if (nullBackend != null) {
                return nullBackend.read(offset, dst);
            }
            MemorySegment.copy(MemorySegment.ofArray(disk), offset, dst, 0, dst.byteSize());
            return dst.byteSize();
        }

        @Override
        public void write(long offset, MemorySegment src) throws IOException {
            assertTrue(!readOnly, "write to a read-only medium");
            inRange("write", offset, src.byteSize());
            if (disk != null) {
                MemorySegment.copy(src, 0, MemorySegment.ofArray(disk), offset, src.byteSize());
            }
        }

        @Override
        public void flush() throws IOException {
            assertTrue(!readOnly, "flush of a read-only medium");
            inRange("flush", 0, 0);
        }

        @Override
        public boolean supportsDiscard() {
            return discard;
        }

        @Override
        public void discard(long offset, long length) throws IOException {
            assertTrue(discard && !readOnly, "discard not offered");
            assertTrue(length % 512 == 0 && length <= (1L << 22) * 512, "discard of " + length + " bytes");
            inRange("discard", offset, length);
        }

        @Override
        public boolean supportsWriteZeroes() {
            return writeZeroes;
        }

        @Override
        public void writeZeroes(long offset, long length) throws IOException {
            assertTrue(writeZeroes && !readOnly, "write zeroes not offered");
            assertTrue(length % 512 == 0 && length <= (1L << 16) * 512, "write zeroes of " + length + " bytes");
            inRange("write zeroes", offset, length);
            if (disk != null) {
                java.util.Arrays.fill(disk, (int) offset, (int) (offset + length), (byte) 0);
            }
        }

        @Override
        public void close() {
        }
    }
}
