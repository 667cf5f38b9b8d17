package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.vmm.api.ControlChannel;
import dev.panvm.vmm.api.GuestCommandException;
import dev.panvm.vmm.api.RunningVm;
import dev.panvm.vmm.api.Vmm;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite's {@code fio} workload on 2 vCPUs: several jobs (kernel threads on both CPUs) read and
 * overwrite one ext2 file through one shared page cache. With {@code verify=1} every block carries
 * a stamp (block number, write sequence, checksum) that the guest checks on every read and, at the
 * end, against the last write of each block, warm and cold; afterwards e2fsck must find the file
 * system clean and the host must find every block of the file stamped as itself.
 */
class FerriteFioKvmTest {
    private static final Duration BOOT = Duration.ofSeconds(60);
    private static final Duration COMMAND = Duration.ofSeconds(120);
    private static final int FILE_BYTES = 2 << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmTestSupport.assumeKvm();
    }

    /** An image with /w.bin (random bytes, to be overwritten) and /keep.bin (must survive). */
    private Path image() throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        byte[] data = new byte[FILE_BYTES];
        new Random(3).nextBytes(data);
        Files.write(tree.resolve("w.bin"), data);
        Files.writeString(tree.resolve("keep.bin"), "untouched\n");
        Path image = dir.resolve("ext2.img");
        run(KvmTestSupport.e2fsprogs("mke2fs"), "-q", "-t", "ext2", "-b", "4096", "-d", tree.toString(),
                image.toString(), "8M");
        return image;
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    /** ferrite on panvm with 2 vCPUs, the image as its disk and the control channel on a console. */
    private static RunningVm start(Path image, boolean readOnly, KvmTestSupport.Capture serial) throws Exception {
        MachineConfig config = MachineConfig.builder(KvmTestSupport.ferrite()).cmdline("ctl=console").cpus(2)
                .memoryBytes(256L << 20).serialOut(serial).disk(image, readOnly)
                .console(new ConsoleTarget.InProcess()).build();
        return Vmm.PANVM.start(config, BOOT);
    }

    private static void exit(RunningVm vm, KvmTestSupport.Capture serial) throws Exception {
        vm.control().exit(0, COMMAND);
        assertEquals(new GuestOutcome.Exited(0), vm.awaitOutcome(Duration.ofSeconds(30)), serial.text());
    }

    /** Throughput and latency fields of the total or of one job. */
    private static void assertThroughput(JsonNode r, long bs) {
        long ops = r.path("ops").asLong();
        assertTrue(ops > 0, r.toString());
        assertEquals(ops * bs, r.path("bytes").asLong(), r.toString());
        assertTrue(r.path("ops_per_s").asDouble() > 0 && r.path("mib_per_s").asDouble() > 0, r.toString());
        long p50 = r.path("lat_p50_ns").asLong();
        long p99 = r.path("lat_p99_ns").asLong();
        assertTrue(p50 > 0 && p50 <= p99 && p99 <= r.path("lat_max_ns").asLong(), "latency percentiles: " + r);
    }

    @Test
    void randrwJobsShareOneCacheAndEveryBlockVerifies() throws Exception {
        Path image = image();
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        ObjectNode r;
        try (RunningVm vm = start(image, false, serial)) {
            // A 64-page cache for a 512-block file: evictions, dirty evictions and write-backs.
            r = vm.control().run("fio",
                    "file=/w.bin jobs=4 rw=randrw rwmixread=50 verify=1 ops=1500 cache_pages=64", COMMAND);
            exit(vm, serial);
        }
        assertEquals(2, r.path("cpus").asInt(), r.toString());
        assertEquals(4, r.path("jobs").asInt(), r.toString());
        assertEquals(6000, r.path("ops").asLong(), r.toString());
        assertEquals(r.path("ops").asLong(), r.path("reads").asLong() + r.path("writes").asLong(), r.toString());
        assertThroughput(r, BLOCK);
        JsonNode jobs = r.path("per_job");
        assertEquals(4, jobs.size(), r.toString());
        for (JsonNode job : jobs) {
            assertEquals(1500, job.path("ops").asLong(), job.toString());
            assertTrue(job.path("reads").asLong() > 0 && job.path("writes").asLong() > 0, job.toString());
            assertThroughput(job, BLOCK);
        }
        assertEquals(FILE_BYTES / BLOCK, r.path("verified_blocks").asLong(), r.toString());
        assertTrue(r.path("device_writes").asLong() > 0, r.toString());
        assertTrue(r.path("device_reads").asLong() > 0 && r.path("evictions").asLong() > 0, r.toString());
        assertTrue(r.path("hits").asLong() > 0 && r.path("misses").asLong() > 0, r.toString());

        run(KvmTestSupport.e2fsprogs("e2fsck"), "-fn", image.toString());
        assertStamped(dump(image, "/w.bin"));
        assertEquals("untouched\n", new String(dump(image, "/keep.bin")));
    }

    @Test
    void sequentialReadJobsEachReportThroughputAndLatency() throws Exception {
        Path image = image();
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        ObjectNode r;
        try (RunningVm vm = start(image, true, serial)) {
            r = vm.control().run("fio", "file=/w.bin jobs=2 rw=read bs=16384", COMMAND);
            exit(vm, serial);
        }
        // Without ops or runtime_ms each job reads the file once, from its own starting point.
        long units = FILE_BYTES / 16384;
        assertEquals("read", r.path("rw").asText(), r.toString());
        assertEquals(2 * units, r.path("reads").asLong(), r.toString());
        assertEquals(0, r.path("writes").asLong(), r.toString());
        assertEquals(0, r.path("device_writes").asLong(), r.toString());
        assertThroughput(r, 16384);
        JsonNode jobs = r.path("per_job");
        assertEquals(2, jobs.size(), r.toString());
        for (int i = 0; i < 2; i++) {
            JsonNode job = jobs.get(i);
            assertEquals(i, job.path("job").asInt(), job.toString());
            assertEquals(units, job.path("reads").asLong(), job.toString());
            assertTrue(job.path("elapsed_ns").asLong() > 0, job.toString());
            assertThroughput(job, 16384);
        }
    }

    @Test
    void aBadParameterIsAnErrorAnswerAndTheVmKeepsServing() throws Exception {
        Path image = image();
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        try (RunningVm vm = start(image, true, serial)) {
            ControlChannel ctl = vm.control();
            GuestCommandException e = assertThrows(GuestCommandException.class,
                    () -> ctl.run("fio", "file=/w.bin bs=1000", COMMAND));
            assertTrue(e.getMessage().contains("bs must be a multiple of 4096"), e.getMessage());
            e = assertThrows(GuestCommandException.class, () -> ctl.run("fio", "file=/w.bin rw=readwrite", COMMAND));
            assertTrue(e.getMessage().contains("expected one of read, write"), e.getMessage());
            ObjectNode r = ctl.run("fio", "file=/w.bin jobs=2 ops=50", COMMAND);
            assertEquals(100, r.path("ops").asLong(), r.toString());
            exit(vm, serial);
        }
    }

    private byte[] dump(Path image, String path) throws Exception {
        Path out = dir.resolve("dump-" + path.substring(1));
        run(KvmTestSupport.e2fsprogs("debugfs"), "-R", "dump " + path + " " + out, image.toString());
        return Files.readAllBytes(out);
    }

    /**
     * Every 4 KiB block of {@code file} is a stamp of the fio crate's verify.rs: magic, its own
     * block number, a sequence number, and the FNV-1a checksum of the 64-bit words after the header.
     */
    private static void assertStamped(byte[] file) {
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
