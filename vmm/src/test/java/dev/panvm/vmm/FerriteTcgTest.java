package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

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
        KvmTestSupport.assumeQemuInstalled();
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

    /** The workload's result line, parsed. */
    private static JsonNode result(FerriteQemuKvmTest.Run r, String workload) {
        return KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), workload));
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
        JsonNode j = result(r, "disksum");
        assertEquals("interrupt", j.path("completion").asText(), r.output());
        assertEquals(expected, j.path("sha256").asText(), r.output());
        long requests = j.path("ops").asLong();
        long interrupts = j.path("interrupts").asLong();
        assertTrue(interrupts > 0, "the driver slept on the device's interrupt: " + r.output());
        assertTrue(interrupts <= requests, "at most one interrupt per request (event idx): " + r.output());
    }

    /**
     * The same queue-full benchmark in both modes under the same host: the queue stays full
     * either way; only interrupt mode takes interrupts, and event idx keeps them to at most one
     * per request.
     */
    @ParameterizedTest
    @CsvSource({"poll, polling", "intr, interrupt"})
    void bothCompletionModesKeepManyRequestsInFlight(String irq, String completion) throws Exception {
        int ops = 512;
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.tcg(
                "irq=" + irq + " workload=diskbench mode=randread bs=4096 ops=" + ops + " qd=32", disk(randomImage()));
        assertExitedZero(r);
        JsonNode j = result(r, "diskbench");
        assertEquals(completion, j.path("completion").asText(), r.output());
        assertTrue(j.path("avg_in_flight").asDouble() > 8, "queue kept full: " + r.output());
        long interrupts = j.path("interrupts").asLong(-1);
        if (completion.equals("polling")) {
            assertEquals(0, interrupts, r.output());
        } else {
            assertTrue(interrupts > 0 && interrupts <= ops, r.output());
        }
    }
}
