package dev.panvm.virtio.blk;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.queue.BufferElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Nested;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_DISCARD;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_FLUSH;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_GET_ID;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_IN;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_OUT;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_WRITE_ZEROES;
import static dev.panvm.virtio.blk.VirtioBlk.VIRTIO_BLK_S_IOERR;
import static dev.panvm.virtio.blk.VirtioBlk.VIRTIO_BLK_S_OK;
import static dev.panvm.virtio.blk.VirtioBlk.VIRTIO_BLK_S_UNSUPP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The device's requests, in each of the ways it can execute them: every case runs in each. */
class VirtioBlkTest {
    enum Execution {
        /** No I/O threads: on the thread that processes the queue. */
        QUEUE_THREAD,
        /** Four I/O threads of the device's own. */
        IO_THREADS,
        /** Deferred, but run by the executor as they are submitted, inside the drain pass. */
        INLINE_EXECUTOR;

        VirtioBlk device(BlockBackend backend, int queueSize) {
            return switch (this) {
                case QUEUE_THREAD -> new VirtioBlk(backend, queueSize, 0);
                case IO_THREADS -> new VirtioBlk(backend, queueSize, 4);
                case INLINE_EXECUTOR -> new VirtioBlk(backend, queueSize, Runnable::run);
            };
        }
    }

    @Nested
    class OnTheQueueThread extends Cases {
        OnTheQueueThread() {
            super(Execution.QUEUE_THREAD);
        }
    }

    @Nested
    class OnIoThreads extends Cases {
        OnIoThreads() {
            super(Execution.IO_THREADS);
        }
    }

    @Nested
    class WithAnInlineExecutor extends Cases {
        WithAnInlineExecutor() {
            super(Execution.INLINE_EXECUTOR);
        }
    }

    abstract static class Cases {
        private static final long ALL = -1L;
        private static final Duration WAIT = Duration.ofSeconds(10);

        @TempDir
        Path dir;

        private final Execution execution;
        private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(4 << 20);
        private final GuestAllocator allocator = new GuestAllocator(0x1000, 4 << 20);
        private final RecordingInterrupts interrupts = new RecordingInterrupts();
        private VirtioBlk blk;
        private MockMmioDriver driver;
        private MockSplitQueue queue;

        Cases(Execution execution) {
            this.execution = execution;
        }

        @AfterEach
        void close() throws IOException {
            assertEquals(0, memory.rejectedSlices(), "the device asked for memory outside guest RAM");
            if (blk != null) {
                assertTrue(blk.shutdown(), "requests still running at shutdown");
                assertEquals(0, blk.internalErrors());
            }
            memory.close();
        }

        private void start(BlockBackend backend, long features) {
            blk = execution.device(backend, 64);
            driver = new MockMmioDriver(new MmioTransport(blk, memory, interrupts), memory, allocator);
            queue = driver.initialize(features, 64).getFirst();
        }

        private Path image(int sectors) throws IOException {
            Path p = dir.resolve("disk.img");
            byte[] content = new byte[sectors * 512];
            for (int i = 0; i < content.length; i++) {
                content[i] = (byte) (i / 512 + i);
            }
            Files.write(p, content);
            return p;
        }

        private BufferElement header(long type, long sector) {
            byte[] h = new byte[16];
            MemorySegment s = MemorySegment.ofArray(h);
            LittleEndian.putU32(s, 0, type);
            LittleEndian.putU64(s, 8, sector);
            return queue.readable(h);
        }

        /** Submits a chain, kicks, and returns its used element. */
        private UsedElement submit(List<BufferElement> chain) {
            int head = queue.addChain(chain);
            driver.kick(0);
            List<UsedElement> used = queue.awaitUsed(1, WAIT);
            assertEquals(1, used.size());
            assertEquals(head, used.getFirst().id());
            return used.getFirst();
        }

        private int status(BufferElement status) {
            return queue.contents(status)[0];
        }

        @Test
        void readsSectorsFromTheImage() throws IOException {
            Path img = image(8);
            start(FileBackend.open(img, false), ALL);
            BufferElement data = queue.writable(1024);
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_IN, 2), data, st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            assertEquals(1025, used.length());
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(img), 1024, 2048), queue.contents(data));
            assertEquals(1, blk.metrics().snapshot().reads());
        }

        @Test
        void writesSectorsToTheImageAndFlushes() throws IOException {
            Path img = image(8);
            start(FileBackend.open(img, false), ALL);
            byte[] pattern = new byte[1536];
            Arrays.fill(pattern, (byte) 0xa5);
            // Data split over two elements of odd sizes: the device must not assume a layout.
            BufferElement d1 = queue.readable(Arrays.copyOfRange(pattern, 0, 700));
            BufferElement d2 = queue.readable(Arrays.copyOfRange(pattern, 700, 1536));
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_OUT, 5), d1, d2, st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            assertEquals(1, used.length());

            BufferElement st2 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_FLUSH, 0), st2));
            assertEquals(VIRTIO_BLK_S_OK, status(st2));

            byte[] disk = Files.readAllBytes(img);
            assertArrayEquals(pattern, Arrays.copyOfRange(disk, 5 * 512, 8 * 512));
            assertEquals((byte) (4 * 512 - 1 + 3), disk[4 * 512 - 1], "the sector before is untouched");
            assertEquals(1, blk.metrics().snapshot().flushes());
        }

        @Test
        void acceptsAHeaderSplitAcrossDescriptorsAndIndirectChains() throws IOException {
            Path img = image(4);
            start(FileBackend.open(img, false), ALL);
            byte[] h = new byte[16];
            LittleEndian.putU32(MemorySegment.ofArray(h), 0, VIRTIO_BLK_T_IN);
            LittleEndian.putU64(MemorySegment.ofArray(h), 8, 3);
            BufferElement h1 = queue.readable(Arrays.copyOfRange(h, 0, 5));
            BufferElement h2 = queue.readable(Arrays.copyOfRange(h, 5, 16));
            BufferElement data = queue.writable(512);
            BufferElement st = queue.writable(1);
            queue.addIndirectChain(List.of(h1, h2, data, st));
            driver.kick(0);
            assertEquals(513, queue.awaitUsed(1, WAIT).getFirst().length());
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(img), 1536, 2048), queue.contents(data));
        }

        @Test
        void getIdReturnsTheNulPaddedId() throws IOException {
            start(FileBackend.open(image(1), false), ALL);
            BufferElement id = queue.writable(20);
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_GET_ID, 0), id, st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            assertEquals(21, used.length());
            byte[] expected = new byte[20];
            byte[] name = "disk.img".getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(name, 0, expected, 0, name.length);
            assertArrayEquals(expected, queue.contents(id));
        }

        @Test
        void writeZeroesZeroesTheRangeOnDisk() throws IOException {
            Path img = image(16);
            start(FileBackend.open(img, false), ALL);
            assertTrue(FeatureBits.has(transportFeatures(), VirtioBlk.VIRTIO_BLK_F_WRITE_ZEROES));
            assertFalse(FeatureBits.has(transportFeatures(), VirtioBlk.VIRTIO_BLK_F_DISCARD), "FileBackend cannot discard");
            byte[] seg = new byte[16];
            LittleEndian.putU64(MemorySegment.ofArray(seg), 0, 3);
            LittleEndian.putU32(MemorySegment.ofArray(seg), 8, 10);
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), queue.readable(seg), st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            byte[] disk = Files.readAllBytes(img);
            assertArrayEquals(new byte[10 * 512], Arrays.copyOfRange(disk, 3 * 512, 13 * 512));
            assertEquals((byte) (13 * 512 + 13), disk[13 * 512]);
        }

        @Test
        void discardIsUnsupportedOnAFileAndWithUnmapOnANullDevice() throws IOException {
            start(FileBackend.open(image(4), false), ALL);
            byte[] seg = new byte[16];
            LittleEndian.putU32(MemorySegment.ofArray(seg), 8, 1);
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_DISCARD, 0), queue.readable(seg), st));
            assertEquals(VIRTIO_BLK_S_UNSUPP, status(st));
        }

        private long transportFeatures() {
            return driver.deviceFeatures();
        }

        @Test
        void aReadOnlyImageRefusesWritesAndWritesNothing() throws IOException {
            Path img = image(4);
            byte[] before = Files.readAllBytes(img);
            start(FileBackend.open(img, true), ALL);
            assertTrue(FeatureBits.has(transportFeatures(), VirtioBlk.VIRTIO_BLK_F_RO));
            assertFalse(FeatureBits.has(transportFeatures(), VirtioBlk.VIRTIO_BLK_F_WRITE_ZEROES));
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_OUT, 0), queue.readable(new byte[512]), st));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st));
            BufferElement st2 = queue.writable(1);
            byte[] seg = new byte[16];
            LittleEndian.putU32(MemorySegment.ofArray(seg), 8, 1);
            submit(List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), queue.readable(seg), st2));
            assertEquals(VIRTIO_BLK_S_UNSUPP, status(st2));
            BufferElement st3 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_FLUSH, 0), st3));
            assertEquals(VIRTIO_BLK_S_OK, status(st3));
            BufferElement data = queue.writable(512);
            BufferElement st4 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_IN, 1), data, st4));
            assertEquals(VIRTIO_BLK_S_OK, status(st4));
            assertArrayEquals(before, Files.readAllBytes(img));
            assertEquals(1, blk.metrics().snapshot().readOnlyRefusals());
        }

        @Test
        void outOfRangeAndMisSizedRequestsFailWithIoerr() throws IOException {
            start(FileBackend.open(image(8), false), ALL);
            long[][] cases = {
                    {VIRTIO_BLK_T_IN, 8, 512},          // starts at the capacity
                    {VIRTIO_BLK_T_IN, 7, 1024},         // runs past it
                    {VIRTIO_BLK_T_IN, -1L, 512},        // 2^64 - 1: overflows
                    {VIRTIO_BLK_T_IN, Long.MAX_VALUE / 256, 512},
                    {VIRTIO_BLK_T_IN, 0, 100},          // not whole sectors
                    {VIRTIO_BLK_T_OUT, 8, 512},
                    {VIRTIO_BLK_T_OUT, 0, 513},
            };
            for (long[] c : cases) {
                BufferElement data = c[0] == VIRTIO_BLK_T_IN ? queue.writable(c[2]) : queue.readable(new byte[(int) c[2]]);
                BufferElement st = queue.writable(1);
                UsedElement used = submit(List.of(header(c[0], c[1]), data, st));
                assertEquals(VIRTIO_BLK_S_IOERR, status(st), Arrays.toString(c));
                // 2.7.8.1: len counts from the start of the writable area. An IN's starts with the
                // data, which was not written; an OUT's is the status byte alone.
                assertEquals(c[0] == VIRTIO_BLK_T_IN ? 0 : 1, used.length(), Arrays.toString(c));
            }
            // The last whole sector is fine.
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_IN, 7), queue.writable(512), st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
        }

        @Test
        void malformedChainsGetIoerrOrAreReturnedUnused() throws IOException {
            start(FileBackend.open(image(8), false), ALL);
            // Header too short.
            BufferElement st = queue.writable(1);
            submit(List.of(queue.readable(new byte[8]), st));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st));
            // IN with its data in the wrong direction.
            BufferElement st2 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_IN, 0), queue.readable(new byte[512]), st2));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st2));
            // OUT with device-writable data.
            BufferElement st3 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_OUT, 0), queue.writable(512), st3));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st3));
            // An unknown request type.
            BufferElement st4 = queue.writable(1);
            submit(List.of(header(99, 0), st4));
            assertEquals(VIRTIO_BLK_S_UNSUPP, status(st4));
            // No device-writable byte at all: nowhere to put a status.
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_IN, 0)));
            assertEquals(0, used.length());
            assertEquals(1, blk.metrics().snapshot().unanswerable());
            // A descriptor loop: the chain goes back unused, the queue works on.
            BufferElement h = header(VIRTIO_BLK_T_FLUSH, 0);
            queue.writeDescriptor(40, new dev.panvm.virtio.queue.Descriptor(h.address(), 16, 1, 41));
            queue.writeDescriptor(41, new dev.panvm.virtio.queue.Descriptor(h.address(), 16, 1, 40));
            queue.publish(40);
            driver.kick(0);
            assertEquals(List.of(new UsedElement(40, 0)), queue.takeUsed());
            BufferElement st5 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_FLUSH, 0), st5));
            assertEquals(VIRTIO_BLK_S_OK, status(st5));
            assertTrue(blk.isActive());
        }

        @Test
        void capacityIsTheImageSizeRoundedDownToSectors() throws IOException {
            Path img = dir.resolve("odd.img");
            Files.write(img, new byte[3 * 512 + 100]);
            start(FileBackend.open(img, false), ALL);
            assertEquals(3, blk.capacity());
            assertEquals(3, driver.readConfig(0, 8));
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_IN, 3), queue.writable(512), st));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st), "the partial sector is unreachable");
        }

        @Test
        void withoutFlushNegotiatedEveryWriteIsFlushed() throws IOException {
            List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
            BlockBackend recording = new BlockBackend() {
                public long size() { return 1 << 20; }
                public boolean isReadOnly() { return false; }
                public String deviceId() { return "rec"; }
                public long read(long offset, MemorySegment dst) { calls.add("read"); return dst.byteSize(); }
                public void write(long offset, MemorySegment src) { calls.add("write"); }
                public void flush() { calls.add("flush"); }
                public void close() { }
            };
            start(recording, FeatureBits.TRANSPORT_FEATURES);
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_OUT, 0), queue.readable(new byte[512]), st));
            assertEquals(List.of("write", "flush"), calls);
        }

        @Test
        void backendErrorsBecomeIoerr() {
            BlockBackend failing = new BlockBackend() {
                public long size() { return 1 << 20; }
                public boolean isReadOnly() { return false; }
                public String deviceId() { return "bad"; }
                public long read(long offset, MemorySegment dst) throws IOException { throw new IOException("EIO"); }
                public void write(long offset, MemorySegment src) throws IOException { throw new IOException("EIO"); }
                public void flush() throws IOException { throw new IOException("EIO"); }
                public void close() { }
            };
            start(failing, ALL);
            BufferElement st = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_IN, 0), queue.writable(512), st));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st));
            BufferElement st2 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_FLUSH, 0), st2));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st2));
            assertEquals(2, blk.metrics().snapshot().backendErrors());
        }

        /**
         * 2.7.8.1: "The device MUST write at least len bytes to descriptor, beginning at the first
         * device-writable buffer". The status byte is the writable area's last byte: it counts only
         * when the data before it was written in full.
         */
        @Test
        void usedLengthCountsTheBytesWrittenFromTheStartOfTheWritableArea() {
            BlockBackend failing = new BlockBackend() {
                public long size() { return 1 << 20; }
                public boolean isReadOnly() { return false; }
                public String deviceId() { return "panvm-id-0123456789x"; }  // 20 bytes: no NUL
                public long read(long offset, MemorySegment dst) throws IOException { throw new IOException("EIO"); }
                public void write(long offset, MemorySegment src) { }
                public void flush() { }
                public void close() { }
            };
            start(failing, ALL);
            // A failed read wrote the status byte only, after 1024 bytes it did not write.
            BufferElement data = queue.writable(1024);
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_IN, 0), data, st));
            assertEquals(VIRTIO_BLK_S_IOERR, status(st));
            assertEquals(0, used.length(), "a failed read wrote nothing from the start of the writable area");

            // GET_ID into 64 bytes: the 20-byte ID, then 44 bytes left alone, then the status.
            BufferElement id = queue.writable(64);
            queue.memory().slice(id.address(), id.length()).fill((byte) 0x77);
            BufferElement st2 = queue.writable(1);
            used = submit(List.of(header(VIRTIO_BLK_T_GET_ID, 0), id, st2));
            assertEquals(VIRTIO_BLK_S_OK, status(st2));
            assertEquals(20, used.length(), "the ID; the status byte is 44 unwritten bytes further");
            byte[] got = queue.contents(id);
            assertArrayEquals("panvm-id-0123456789x".getBytes(StandardCharsets.US_ASCII), Arrays.copyOf(got, 20));
            assertEquals(0x77, got[20]);

            // GET_ID into exactly 20 bytes (what Linux posts): ID and status are contiguous.
            BufferElement id20 = queue.writable(20);
            BufferElement st3 = queue.writable(1);
            assertEquals(21, submit(List.of(header(VIRTIO_BLK_T_GET_ID, 0), id20, st3)).length());
            // Into 8 bytes: a truncated ID, then the status.
            BufferElement id8 = queue.writable(8);
            BufferElement st4 = queue.writable(1);
            assertEquals(9, submit(List.of(header(VIRTIO_BLK_T_GET_ID, 0), id8, st4)).length());
            assertArrayEquals("panvm-id".getBytes(StandardCharsets.US_ASCII), queue.contents(id8));
            // An OUT's writable area is the status byte alone.
            BufferElement st5 = queue.writable(1);
            assertEquals(1, submit(List.of(header(VIRTIO_BLK_T_OUT, 0), queue.readable(new byte[512]), st5)).length());
        }

        @Test
        void theNullBackendCompletesWithoutTouchingBuffers() {
            start(new NullBackend(64L << 30), ALL);
            assertEquals((64L << 30) / 512, driver.readConfig(0, 8));
            BufferElement data = queue.writable(4096);
            queue.memory().slice(data.address(), data.length()).fill((byte) 0x77);
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_IN, 1000), data, st));
            assertEquals(VIRTIO_BLK_S_OK, status(st));
            assertEquals(0, used.length(), "the data was not written, so nothing from the start of the writable area");
            assertEquals(0x77, queue.contents(data)[100]);

            byte[] seg = new byte[16];
            LittleEndian.putU32(MemorySegment.ofArray(seg), 8, 8);
            BufferElement st2 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_DISCARD, 0), queue.readable(seg), st2));
            assertEquals(VIRTIO_BLK_S_OK, status(st2));
            LittleEndian.putU32(MemorySegment.ofArray(seg), 12, 1); // unmap on a discard
            BufferElement st3 = queue.writable(1);
            submit(List.of(header(VIRTIO_BLK_T_DISCARD, 0), queue.readable(seg), st3));
            assertEquals(VIRTIO_BLK_S_UNSUPP, status(st3));
        }

        @Test
        void theZeroFillingNullBackendReturnsZeroes() {
            start(new NullBackend(1 << 20, true), ALL);
            BufferElement data = queue.writable(512);
            queue.memory().slice(data.address(), data.length()).fill((byte) 0x77);
            BufferElement st = queue.writable(1);
            UsedElement used = submit(List.of(header(VIRTIO_BLK_T_IN, 0), data, st));
            assertEquals(513, used.length());
            assertArrayEquals(new byte[512], queue.contents(data));
        }

        @Test
        void manyRequestsInOneKick() throws IOException {
            Path img = image(64);
            start(FileBackend.open(img, false), ALL);
            List<BufferElement> data = new ArrayList<>();
            List<BufferElement> statuses = new ArrayList<>();
            for (int i = 0; i < 21; i++) {
                data.add(queue.writable(512));
                statuses.add(queue.writable(1));
                queue.addChain(List.of(header(VIRTIO_BLK_T_IN, i * 2), data.getLast(), statuses.getLast()));
            }
            interrupts.take();
            driver.kick(0);
            assertEquals(21, queue.awaitUsed(21, WAIT).size());
            if (execution != Execution.IO_THREADS) {
                // I/O threads return chains as they finish, in as many batches as it takes.
                assertEquals(1, interrupts.take(), "one interrupt for the batch");
            }
            byte[] disk = Files.readAllBytes(img);
            for (int i = 0; i < 21; i++) {
                assertEquals(VIRTIO_BLK_S_OK, status(statuses.get(i)));
                assertArrayEquals(Arrays.copyOfRange(disk, i * 1024, i * 1024 + 512), queue.contents(data.get(i)));
            }
        }
    }
}
