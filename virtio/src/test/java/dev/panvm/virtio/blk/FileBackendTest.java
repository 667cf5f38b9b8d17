package dev.panvm.virtio.blk;

import dev.panvm.virtio.mock.SimulatedBlkDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileBackendTest {
    @TempDir
    Path dir;

    private Path image(int bytes) throws IOException {
        byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            data[i] = (byte) (i * 7);
        }
        return Files.write(dir.resolve("disk.img"), data);
    }

    private static void truncate(Path p, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    @Test
    void aReadPastTheEndOfATruncatedImageFailsInsteadOfReadingZeroes() throws Exception {
        Path p = image(64 << 10);
        try (FileBackend disk = FileBackend.open(p, false); Arena arena = Arena.ofConfined()) {
            truncate(p, 20 << 10);
            MemorySegment buf = arena.allocate(8192);
            assertEquals(8192, disk.read(8192, buf), "still inside the image");
            assertEquals((byte) (8192 * 7), buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            IOException e = assertThrows(IOException.class, () -> disk.read(16 << 10, buf));
            assertTrue(e.getMessage().contains("truncated: no data at byte 20480 of its 65536 (now 20480)"), e.getMessage());
            assertEquals(64 << 10, disk.size(), "the announced capacity does not change");
        }
    }

    /** Through the device: the request gets IOERR, the device keeps serving the sectors still there. */
    @Test
    void theGuestSeesIoerrAndTheDeviceKeepsServing() throws Exception {
        Path p = image(64 << 10);
        try (FileBackend disk = FileBackend.open(p, false)) {
            SimulatedBlkDriver blk = new SimulatedBlkDriver(disk, 0, 16, 1 << 20);
            try {
                truncate(p, 16 << 10);
                SimulatedBlkDriver.Slot read = blk.slot(BlockRequest.VIRTIO_BLK_T_IN, 4096);
                assertEquals(VirtioBlk.VIRTIO_BLK_S_IOERR, roundTrip(blk, read, 40)); // byte 20480: gone
                assertEquals(VirtioBlk.VIRTIO_BLK_S_OK, roundTrip(blk, read, 8));     // byte 4096: there
                assertEquals((byte) (4096 * 7), blk.data(read).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            } finally {
                blk.close();
            }
        }
    }

    private static int roundTrip(SimulatedBlkDriver blk, SimulatedBlkDriver.Slot s, long sector) {
        blk.post(s, sector);
        blk.kick();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (blk.reap(head -> { }) == 0) {
            assertTrue(System.nanoTime() < deadline, "the device answered");
            Thread.onSpinWait();
        }
        return blk.status(s);
    }
}
