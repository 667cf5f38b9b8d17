package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite overwrites a file on an ext2 image in place through its page cache (dirty pages,
 * merged write-back, FLUSH); afterwards e2fsprogs, on the host, must read exactly the bytes the
 * workload promises and find the file system clean.
 */
class FerriteFileWriteKvmTest {

    @TempDir
    Path dir;

    /** The bytes `workload=filewrite seed=SEED` writes (ferrite's workload/file.rs). */
    static byte[] pattern(long seed, int size) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        for (long k = 0; k < size / 8; k++) {
            b.putLong((seed ^ k) * 0x9e3779b97f4a7c15L);
        }
        return b.array();
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** The file as e2fsprogs sees it, after e2fsck -fn finds the file system clean. */
    private byte[] hostView(Path image, String path) throws Exception {
        WritableExt2.run(KvmTestSupport.e2fsprogs("e2fsck"), "-fn", image.toString());
        return WritableExt2.dump(dir, image, path);
    }

    @ParameterizedTest(name = "{0} cache_pages={1} bs={2} scheduler={3}")
    @CsvSource({
        "lru, 1024, 65536, none",
        "arc, 64, 65536, deadline",
        // A cache smaller than the dirty data and writes that are not page aligned: dirty pages
        // are evicted (written before reuse) and partial pages are read, patched and written.
        "qlearn, 8, 1000, none",
    })
    void overwriteReachesTheImage(String policy, int cachePages, int bs, String scheduler) throws Exception {
        KvmTestSupport.assumeKvm();
        byte[] keep = "untouched\n".getBytes();
        Path image = WritableExt2.create(dir, 5, keep);
        long seed = 11;
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(),
                "workload=filewrite file=/w.bin seed=" + seed + " cache=" + policy + " cache_pages=" + cachePages
                        + " bs=" + bs + " scheduler=" + scheduler,
                256L << 20, 1, BootProtocol.DIRECT, serial, List.of(new DeviceSpec.Disk(image, false)));
        try (Machine m = Machine.create(config)) {
            assertEquals(new GuestOutcome.Exited(0), m.run(Duration.ofSeconds(90)), serial.text());
        }
        String expected = sha256(pattern(seed, WritableExt2.FILE_BYTES));
        String out = serial.text();
        JsonNode result = KvmTestSupport.parseJson(KvmTestSupport.resultLine(out, "filewrite"));
        assertEquals(expected, result.path("sha256").asText(), "read back through the cache: " + out);
        assertEquals(expected, sha256(hostView(image, "/w.bin")), "on the image: " + out);
        assertEquals(sha256(keep), sha256(hostView(image, "/keep.bin")), out);
        if (cachePages == 8) {
            assertTrue(result.path("evicted_dirty_pages").asLong() > 0, "dirty pages were evicted: " + out);
        }
    }

    @Test
    void sameOverwriteUnderQemu() throws Exception {
        KvmTestSupport.assumeQemu();
        Path image = WritableExt2.create(dir, 5, new byte[] {2});
        long seed = 12;
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.qemu("workload=filewrite file=/w.bin seed=" + seed,
                "-drive", "id=d0,file=" + image + ",format=raw,if=none", "-device", "virtio-blk-device,drive=d0");
        assertEquals(1, r.status(), r.output());
        assertEquals(sha256(pattern(seed, WritableExt2.FILE_BYTES)), sha256(hostView(image, "/w.bin")), r.output());
    }

    @Test
    void readOnlyDiskIsRefusedAndUnchanged() throws Exception {
        KvmTestSupport.assumeKvm();
        Path image = WritableExt2.create(dir, 5, new byte[] {1});
        byte[] before = Files.readAllBytes(image);
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(), "workload=filewrite file=/w.bin",
                256L << 20, 1, BootProtocol.DIRECT, serial, List.of(new DeviceSpec.Disk(image, true)));
        GuestOutcome outcome;
        try (Machine m = Machine.create(config)) {
            outcome = m.run(Duration.ofSeconds(60));
        }
        assertTrue(outcome instanceof GuestOutcome.Exited e && e.status() != 0, outcome + "\n" + serial.text());
        assertTrue(serial.text().contains("the disk is read-only"), serial.text());
        assertTrue(Arrays.equals(before, Files.readAllBytes(image)), "the image is unchanged");
    }
}
