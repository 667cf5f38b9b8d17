package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite reads a file from an ext2 image made by the host's mke2fs, through its page cache
 * and virtio-blk driver, with every replacement policy; the checksum must match the host's.
 */
class FerriteExt2KvmTest {
    @TempDir
    static Path dir;
    static Path image;
    static String expectedSha256;

    @BeforeAll
    static void makeImage() throws Exception {
        KvmTestSupport.assumeKvm();
        Path tree = Files.createDirectories(dir.resolve("tree/d"));
        byte[] data = new byte[3 << 20];
        new Random(7).nextBytes(data);
        Files.write(tree.resolve("big.bin"), data);
        Files.writeString(dir.resolve("tree/small.txt"), "hi\n");
        expectedSha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        image = dir.resolve("ext2.img");
        Process p = new ProcessBuilder(mke2fs(), "-q", "-t", "ext2", "-b", "4096", "-d", dir.resolve("tree").toString(),
                image.toString(), "16M").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "mke2fs failed: " + out);
    }

    private static String mke2fs() {
        for (String candidate : List.of("/usr/sbin/mke2fs", "/sbin/mke2fs", "/usr/bin/mke2fs")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new AssertionError("mke2fs not found: install e2fsprogs");
    }

    @ParameterizedTest
    @ValueSource(strings = {"lru", "clock", "arc", "lecar", "qlearn"})
    void fileReadThroughThePageCacheMatchesTheHost(String policy) throws Exception {
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(),
                "workload=seqread file=/d/big.bin passes=2 cache=" + policy + " cache_pages=1024", 256L << 20, 1,
                BootProtocol.DIRECT, serial, List.of(new DeviceSpec.Disk(image, true)));
        try (Machine m = Machine.create(config)) {
            assertEquals(new GuestOutcome.Exited(0), m.run(Duration.ofSeconds(90)), serial.text());
        }
        String out = serial.text();
        assertTrue(out.contains("\"sha256\":\"" + expectedSha256 + "\""), out);
        assertTrue(out.contains("\"cache\":\"" + policy + "\""), out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"seqread file=/d/big.bin", "seqread file=/small.txt"})
    void sameImageUnderQemu(String workload) throws Exception {
        FerriteQemuKvmTest.assumeQemu();
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.qemu("workload=" + workload,
                "-drive", "id=d0,file=" + image + ",format=raw,if=none,readonly=on", "-device", "virtio-blk-device,drive=d0");
        assertEquals(1, r.status(), r.output());
        if (workload.contains("big.bin")) {
            assertTrue(r.output().contains("\"sha256\":\"" + expectedSha256 + "\""), r.output());
        } else {
            assertTrue(r.output().contains("\"bytes\":3"), r.output());
        }
    }
}
