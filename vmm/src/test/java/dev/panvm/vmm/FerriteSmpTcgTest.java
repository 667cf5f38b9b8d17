package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite on several CPUs without KVM: under QEMU's microvm (PVH entry, which enters only the
 * boot CPU) ferrite finds the other CPUs itself (ACPI MADT, or with {@code acpi=off} the MP table)
 * and starts them by INIT-SIPI-SIPI through a real-mode trampoline (BOOT.md, "SMP under QEMU").
 * Multi-threaded TCG runs each vCPU on its own host thread, so the cross-CPU paths (wakeups and
 * IPIs, the shared page cache, the allocator) race for real. Runs are sized for TCG: a few seconds
 * in all.
 */
class FerriteSmpTcgTest {
    private static final long QEMU_TIMEOUT_S = 60;

    @TempDir
    Path dir;

    @BeforeEach
    void needQemu() {
        KvmTestSupport.assumeQemuInstalled();
    }

    record Run(int status, String output) {}

    /** ferrite on QEMU microvm, TCG with one host thread per vCPU, 2 vCPUs. */
    private static Run qemu(String machine, String cmdline, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(KvmTestSupport.QEMU, "-M", machine,
                "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "256M",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-global", "virtio-mmio.force-legacy=false",
                "-kernel", KvmTestSupport.ferrite().toString(), "-append", cmdline));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        // Read on another thread so that a hung guest cannot block the timeout.
        var output = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return "(reading QEMU's output failed: " + e + ")";
            }
        });
        if (!p.waitFor(QEMU_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("QEMU did not finish within " + QEMU_TIMEOUT_S + " s:\n"
                    + output.get(5, TimeUnit.SECONDS));
        }
        return new Run(p.exitValue(), output.get(5, TimeUnit.SECONDS));
    }

    private static JsonNode result(Run r, String workload) {
        assertEquals(1, r.status(), "QEMU reports debug-exit 0 as status 1:\n" + r.output());
        return KvmTestSupport.parseJson(KvmTestSupport.resultLine(r.output(), workload));
    }

    /**
     * Two threads pinned to different CPUs pass a byte back and forth: every round trip is two
     * cross-CPU wakeups (in interrupt mode each with a reschedule IPI to a halted CPU). The CPUs
     * come from the MADT, or with {@code acpi=off} from the MP table that microvm's firmware
     * (qboot) writes.
     */
    @ParameterizedTest
    @CsvSource({"microvm, poll, ACPI MADT", "microvm, intr, ACPI MADT", "'microvm,acpi=off', intr, MP table"})
    void apsStartAndAPipeRunsAcrossTwoCpus(String machine, String irq, String source) throws Exception {
        Run r = qemu(machine, "irq=" + irq + " workload=pipe pin=split ops=1000");
        JsonNode j = result(r, "pipe");
        assertTrue(r.output().contains("smp: 2 CPU(s) (" + source + "): APIC ids [0, 1]"), r.output());
        assertTrue(r.output().contains("smp: 2 CPUs online"), r.output());
        assertEquals(2, j.path("cpus").asInt(), j.toString());
        assertEquals("split", j.path("pin").asText(), j.toString());
        assertEquals(1000, j.path("ops").asLong(), j.toString());
        assertEquals(irq.equals("poll") ? "polling" : "interrupt", j.path("irq").asText(), j.toString());
        // Both threads block on every round trip: at least one switch per byte on each CPU.
        assertTrue(j.path("context_switches").asLong() >= 2000, j.toString());
        // Each byte wakes the thread on the other CPU: a wakeup that finds it parked goes
        // through that CPU's wake list (one that finds it still on its way to sleep does not
        // need to), so at least a quarter of the 2000 wakeups cross that way (1280-1936 seen).
        assertTrue(j.path("remote_wakeups").asLong() >= 500, j.toString());
    }

    /**
     * The fio acceptance run of FerriteFioKvmTest (there 1500 I/Os per job), on 2 TCG vCPUs: four
     * jobs on both CPUs overwrite and read one file through one 64-page cache with verify=1;
     * afterwards e2fsck finds the file system clean, every block is a stamp of itself and the
     * other file is untouched. Fewer I/Os per job, because TCG's time per I/O grows many times
     * over on a busy host (measured on 2 cores at load 3.4: ~9 ms per I/O with interrupts, where
     * each I/O waits for several host threads to be scheduled; polling vCPUs fight for the
     * cores instead), against ~0.25 ms on a quiet one. Every block is still stamped, evicted
     * dirty and verified warm and cold.
     */
    @ParameterizedTest
    @CsvSource({"poll, polling, 150", "intr, interrupt, 250"})
    void fioJobsOnTwoCpusVerifyAndLeaveACleanFileSystem(String irq, String completion, int ops) throws Exception {
        Path image = WritableExt2.create(dir, 3, "untouched\n".getBytes());
        Run r = qemu("microvm", "irq=" + irq + " workload=fio file=/w.bin jobs=4 rw=randrw rwmixread=50 verify=1 ops="
                        + ops + " cache_pages=64",
                "-drive", "id=d0,file=" + image + ",format=raw,if=none", "-device", "virtio-blk-device,drive=d0");
        JsonNode j = result(r, "fio");
        assertEquals(2, j.path("cpus").asInt(), j.toString());
        assertEquals(4L * ops, j.path("ops").asLong(), j.toString());
        assertEquals(j.path("ops").asLong(), j.path("reads").asLong() + j.path("writes").asLong(), j.toString());
        assertEquals(4, j.path("per_job").size(), j.toString());
        assertEquals(WritableExt2.FILE_BYTES / WritableExt2.BLOCK, j.path("verified_blocks").asLong(), j.toString());
        assertEquals(completion, j.path("completion").asText(), j.toString());
        assertTrue(j.path("evictions").asLong() > 0 && j.path("device_writes").asLong() > 0, j.toString());

        WritableExt2.run(KvmTestSupport.e2fsprogs("e2fsck"), "-fn", image.toString());
        WritableExt2.assertFioStamped(WritableExt2.dump(dir, image, "/w.bin"));
        assertEquals("untouched\n", new String(WritableExt2.dump(dir, image, "/keep.bin")));
    }

    /**
     * kmalloc's per-CPU magazines and depots under real parallelism: two threads churning on both
     * CPUs, and producer/consumer pairs where every object is freed on the other CPU. Every object
     * carries a stamp checked before it is freed (a duplicated hand-out panics), and with all CPUs
     * held and every cache drained before and after, the slabs count exactly as many objects in use
     * as before: none lost.
     */
    @ParameterizedTest
    @CsvSource({"intr, churn, 2", "poll, churn, 4", "intr, pc, 2", "poll, pc, 4"})
    void kmallocOnTwoCpusLosesAndDuplicatesNoObject(String irq, String mode, int threads) throws Exception {
        Run r = qemu("microvm", "irq=" + irq + " workload=kmalloc ops=30000 mode=" + mode + " threads=" + threads);
        JsonNode j = result(r, "kmalloc");
        assertEquals(mode, j.path("pattern").asText(), j.toString());
        assertEquals(threads, j.path("threads").asInt(), j.toString());
        assertEquals(0, j.path("leaked_objects").asLong(-1), j.toString());
        assertEquals(0, j.path("kmalloc_stats").path("failures").asLong(-1), j.toString());
        long slabAllocs = j.path("slab_allocs").asLong(-1);
        // The magazines served most of the measured round's allocations: the slabs filled them
        // a magazine at a time.
        assertTrue(slabAllocs > 0 && slabAllocs * 4 < 30000, "slab allocations: " + slabAllocs + " " + j);
        // Magazines and depots held something, and no more than their bound: two CPUs' magazines
        // (mm::CPU_CACHE_MAX_BYTES = 390976 each) and depots of 2 magazines per CPU and class.
        long cached = j.path("cpu_cache_bytes").asLong();
        assertTrue(cached > 0 && cached <= 4 * 390_976, j.toString());
    }

}
