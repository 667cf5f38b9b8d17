package dev.panvm.vmm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The small writable ext2 image the write tests share (filewrite, fio): {@code /w.bin}, 2 MiB of
 * seeded random bytes for the guest to overwrite in place, and {@code /keep.bin}, which must
 * survive, on 8 MiB with 4 KiB blocks; and how the tests look at it afterwards with e2fsprogs.
 */
final class WritableExt2 {
    static final int FILE_BYTES = 2 << 20;
    static final int BLOCK = 4096;

    private WritableExt2() {
    }

    /** Makes {@code dir/ext2.img} (from {@code dir/tree}) with /w.bin from {@code seed} and /keep.bin. */
    static Path create(Path dir, long seed, byte[] keep) throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        byte[] data = new byte[FILE_BYTES];
        new Random(seed).nextBytes(data);
        Files.write(tree.resolve("w.bin"), data);
        Files.write(tree.resolve("keep.bin"), keep);
        Path image = dir.resolve("ext2.img");
        run(KvmTestSupport.e2fsprogs("mke2fs"), "-q", "-t", "ext2", "-b", "4096", "-d", tree.toString(),
                image.toString(), "8M");
        return image;
    }

    /** Runs {@code cmd}, which must exit 0; its output. */
    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    /** The file {@code path} of {@code image}, as debugfs dumps it into {@code dir}. */
    static byte[] dump(Path dir, Path image, String path) throws Exception {
        Path out = dir.resolve("dump-" + path.substring(1));
        run(KvmTestSupport.e2fsprogs("debugfs"), "-R", "dump " + path + " " + out, image.toString());
        return Files.readAllBytes(out);
    }

    /**
     * Every 4 KiB block of {@code file} is a stamp of the fio crate's verify.rs: magic, its own
     * block number, a sequence number, and the FNV-1a checksum of the 64-bit words after the header.
     */
    static void assertFioStamped(byte[] file) {
        assertEquals(FILE_BYTES, file.length);
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        for (int block = 0; block < FILE_BYTES / BLOCK; block++) {
            int at = block * BLOCK;
            long sum = 0xcbf29ce484222325L;
            for (int off = at + 32; off < at + BLOCK; off += 8) {
                sum = (sum ^ b.getLong(off)) * 0x100000001b3L;
            }
            long[] header = {b.getLong(at), b.getLong(at + 8), b.getLong(at + 24)};
            assertTrue(Arrays.equals(new long[] {0x6f69662d65746972L, block, sum}, header),
                    "block " + block + " is not a stamp of itself: " + Arrays.toString(header));
        }
    }
}
