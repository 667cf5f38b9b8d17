package dev.panvm.vmm;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite's virtio-blk driver in both completion modes. A PVM host never delivers interrupts to
 * the guest kernel, so ferrite polls there; under QEMU's TCG (no KVM needed) it runs in
 * interrupt mode and sleeps until the device's completion interrupt. Same data either way.
 */
class FerriteTcgTest {
    private static final int IMAGE_BYTES = 4 << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void needQemu() {
        FerriteQemuKvmTest.assumeQemuInstalled();
    }

    private Path randomImage() throws Exception {
        byte[] data = new byte[IMAGE_BYTES];
        new Random(11).nextBytes(data);
        return Files.write(dir.resolve("disk.img"), data);
    }

    private static String[] disk(Path image) {
        return new String[] {"-drive", "id=d0,file=" + image + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=d0"};
    }

    private static long number(String output, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(\\d+)").matcher(output);
        assertTrue(m.find(), "no " + field + " in: " + output);
        return Long.parseLong(m.group(1));
    }

    private static void assertExitedZero(FerriteQemuKvmTest.Run r) {
        assertEquals(1, r.status(), "QEMU reports debug-exit 0 as status 1:\n" + r.output());
    }

    @Test
    void interruptCompletionReadsTheWholeDiskCorrectly() throws Exception {
        Path image = randomImage();
        String expected = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(image)));
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg("irq=intr workload=disksum qd=16", disk(image));
        assertExitedZero(r);
        assertTrue(r.output().contains("\"completion\":\"interrupt\""), r.output());
        assertTrue(r.output().contains("\"sha256\":\"" + expected + "\""), r.output());
        long requests = number(r.output(), "ops");
        long interrupts = number(r.output(), "interrupts");
        assertTrue(interrupts > 0, "the driver slept on the device's interrupt: " + r.output());
        assertTrue(interrupts <= requests, "at most one interrupt per request (event idx): " + r.output());
    }

    @Test
    void pollingModeTakesNoInterruptsUnderTheSameHost() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg(
                "irq=poll workload=diskbench mode=randread bs=4096 ops=512 qd=32", disk(randomImage()));
        assertExitedZero(r);
        assertTrue(r.output().contains("\"completion\":\"polling\""), r.output());
        assertEquals(0, number(r.output(), "interrupts"), r.output());
    }

    @Test
    void interruptModeKeepsManyRequestsInFlight() throws Exception {
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg(
                "irq=intr workload=diskbench mode=randread bs=4096 ops=512 qd=32", disk(randomImage()));
        assertExitedZero(r);
        assertTrue(r.output().contains("\"completion\":\"interrupt\""), r.output());
        Matcher m = Pattern.compile("\"avg_in_flight\":([0-9.]+)").matcher(r.output());
        assertTrue(m.find(), r.output());
        assertTrue(Double.parseDouble(m.group(1)) > 8, "queue kept full: " + r.output());
        long interrupts = number(r.output(), "interrupts");
        assertTrue(interrupts > 0 && interrupts <= 512, r.output());
    }
}
