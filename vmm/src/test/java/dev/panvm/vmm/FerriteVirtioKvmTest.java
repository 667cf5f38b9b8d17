package dev.panvm.vmm;

import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite's virtio drivers against panvm's virtio-mmio devices and, as the independent
 * reference, against QEMU's: the same image, the same checks.
 */
class FerriteVirtioKvmTest {
    private static final int IMAGE_BYTES = 4 << 20;

    @TempDir
    Path dir;

    private record Run(boolean ok, String output) {}

    private Path randomImage() throws Exception {
        byte[] data = new byte[IMAGE_BYTES];
        new Random(42).nextBytes(data);
        Path p = dir.resolve("disk.img");
        Files.write(p, data);
        return p;
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private static Run panvm(String cmdline, List<DeviceSpec> devices) throws Exception {
        KvmTestSupport.assumeKvm();
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(), cmdline, 256L << 20, 1,
                BootProtocol.DIRECT, serial, devices);
        try (Machine m = Machine.create(config)) {
            GuestOutcome o = m.run(Duration.ofSeconds(90));
            return new Run(o.equals(new GuestOutcome.Exited(0)), serial.text() + "\n" + o);
        }
    }

    private static Run qemu(String cmdline, String... devices) throws Exception {
        KvmTestSupport.assumeQemu();
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.qemu(cmdline, devices);
        return new Run(r.status() == 1, r.output());
    }

    private static String[] qemuDisk(Path image, boolean readOnly) {
        return new String[] {"-drive", "id=d0,file=" + image + ",format=raw,if=none" + (readOnly ? ",readonly=on" : ""),
                "-device", "virtio-blk-device,drive=d0"};
    }

    private Run run(String vmm, String cmdline, Path image, boolean readOnly) throws Exception {
        return vmm.equals("panvm")
                ? panvm(cmdline, List.of(new DeviceSpec.Disk(image, readOnly)))
                : qemu(cmdline, qemuDisk(image, readOnly));
    }

    /**
     * With VIRTIO_F_INDIRECT_DESC (both VMMs offer it) each request takes one ring descriptor; QEMU
     * can withhold it, and then a 4 KiB read takes three. Either way the driver keeps the queue
     * depth it was asked for (64 of 85 or 128 slots).
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void queueStaysFullWithAndWithoutIndirectDescriptors(boolean indirect) throws Exception {
        KvmTestSupport.assumeQemu();
        Path image = randomImage();
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.qemu("workload=diskbench mode=randread bs=4096 ops=2000 qd=64",
                "-drive", "id=d0,file=" + image + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=d0" + (indirect ? "" : ",indirect_desc=off"));
        assertEquals(1, r.status(), r.output());
        String boot = r.output().lines().filter(l -> l.startsWith("virtio: blk")).findFirst().orElseThrow();
        assertEquals(indirect, boot.contains("indirect descriptors"), boot);
        var result = KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), "diskbench"));
        assertTrue(result.path("avg_in_flight").asDouble() > 32, "queue kept full: " + r.output());
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void disksumMatchesTheHostsSha256(String vmm) throws Exception {
        Path image = randomImage();
        Run r = run(vmm, "workload=disksum", image, true);
        assertTrue(r.ok(), r.output());
        assertTrue(r.output().contains("\"sha256\":\"" + sha256(image) + "\""), r.output());
        assertTrue(r.output().contains("\"bytes\":" + IMAGE_BYTES), r.output());
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void writtenPatternIsOnTheImageAfterTheVmExits(String vmm) throws Exception {
        Path image = randomImage();
        byte[] before = Files.readAllBytes(image);
        Run r = run(vmm, "workload=diskwrite pattern=5a offset=8192 length=12288", image, false);
        assertTrue(r.ok(), r.output());
        assertTrue(r.output().contains("\"flushed\":true"), r.output());
        byte[] after = Files.readAllBytes(image);
        for (int i = 0; i < after.length; i++) {
            byte expected = i >= 8192 && i < 8192 + 12288 ? (byte) 0x5a : before[i];
            if (after[i] != expected) {
                throw new AssertionError(vmm + ": byte " + i + " is " + after[i] + ", expected " + expected);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void readOnlyDiskRefusesWrites(String vmm) throws Exception {
        Path image = randomImage();
        String before = sha256(image);
        Run r = run(vmm, "workload=diskwrite pattern=5a", image, true);
        assertTrue(!r.ok() && r.output().contains("read-only"), r.output());
        assertEquals(before, sha256(image), "the image is unchanged");
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void rngReturnsBytes(String vmm) throws Exception {
        Run r = vmm.equals("panvm")
                ? panvm("workload=rng bytes=256", List.of(new DeviceSpec.Rng()))
                : qemu("workload=rng bytes=256", "-device", "virtio-rng-device");
        assertTrue(r.ok(), r.output());
        assertTrue(r.output().contains("\"workload\":\"rng\"") && r.output().contains("\"bytes\":256"), r.output());
    }

    /**
     * kill -9 of panvm right after ferrite reports its flush acknowledged: the data is on the
     * image (FLUSH completes only after fdatasync).
     */
    @Test
    void acknowledgedFlushSurvivesKill9() throws Exception {
        KvmTestSupport.assumeKvm();
        Path image = randomImage();
        Process p = new ProcessBuilder(KvmTestSupport.panvmCommand("--disk", image.toString(),
                "--cmdline", "workload=diskwrite pattern=c3 offset=0 length=65536 hold_ms=60000"))
                .redirectErrorStream(true).start();
        StringBuilder seen = new StringBuilder();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                seen.append(line).append('\n');
                if (line.contains("\"flushed\":true")) {
                    p.destroyForcibly(); // SIGKILL: no shutdown hooks, no further syncs
                    break;
                }
            }
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "panvm ended");
        assertTrue(seen.toString().contains("\"flushed\":true"), seen.toString());
        byte[] after = Files.readAllBytes(image);
        for (int i = 0; i < 65536; i++) {
            assertEquals((byte) 0xc3, after[i], "byte " + i + " after kill -9");
        }
    }
}
