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

import java.nio.file.Path;
import java.time.Duration;

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

    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmTestSupport.assumeKvm();
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
        Path image = WritableExt2.create(dir, 3, "untouched\n".getBytes());
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
        assertThroughput(r, WritableExt2.BLOCK);
        JsonNode jobs = r.path("per_job");
        assertEquals(4, jobs.size(), r.toString());
        for (JsonNode job : jobs) {
            assertEquals(1500, job.path("ops").asLong(), job.toString());
            assertTrue(job.path("reads").asLong() > 0 && job.path("writes").asLong() > 0, job.toString());
            assertThroughput(job, WritableExt2.BLOCK);
        }
        assertEquals(WritableExt2.FILE_BYTES / WritableExt2.BLOCK, r.path("verified_blocks").asLong(), r.toString());
        assertTrue(r.path("device_writes").asLong() > 0, r.toString());
        assertTrue(r.path("device_reads").asLong() > 0 && r.path("evictions").asLong() > 0, r.toString());
        assertTrue(r.path("hits").asLong() > 0 && r.path("misses").asLong() > 0, r.toString());

        WritableExt2.run(KvmTestSupport.e2fsprogs("e2fsck"), "-fn", image.toString());
        WritableExt2.assertFioStamped(WritableExt2.dump(dir, image, "/w.bin"));
        assertEquals("untouched\n", new String(WritableExt2.dump(dir, image, "/keep.bin")));
    }

    @Test
    void sequentialReadJobsEachReportThroughputAndLatency() throws Exception {
        Path image = WritableExt2.create(dir, 3, "untouched\n".getBytes());
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        ObjectNode r;
        try (RunningVm vm = start(image, true, serial)) {
            r = vm.control().run("fio", "file=/w.bin jobs=2 rw=read bs=16384", COMMAND);
            exit(vm, serial);
        }
        // Without ops or runtime_ms each job reads the file once, from its own starting point.
        long units = WritableExt2.FILE_BYTES / 16384;
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
        Path image = WritableExt2.create(dir, 3, "untouched\n".getBytes());
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

}
