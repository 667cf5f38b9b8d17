package dev.panvm.bench.report;

import dev.panvm.bench.SecondaryMetrics;
import dev.panvm.bench.report.Figure.Chart;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The catalog of figures: for every benchmark method in dev.panvm.bench, what it measures in
 * words, its area and chart, its peer and the unit it reads best in. A benchmark missing here
 * still gets a row, named by JMH, in the area {@value #OTHER}.
 */
public final class Figures {
    /** The {@code vmm} parameter of our VMM; results without that parameter are panvm's too. */
    public static final String PANVM = "panvm";
    static final String QEMU = "qemu";
    static final String HOST_LINUX = "host-linux";
    static final String OTHER = "other";

    private static final Chart EXITS = new Chart("vmm-exits", "VMM: exits and requests", "µs per exit or request");
    private static final Chart BLOCK_DEVICE = new Chart("vmm-block-device", "VMM: virtio-blk device model (no KVM)",
            "µs per request");
    private static final Chart STARTUP = new Chart("vmm-startup", "VMM: start-up and VM lifecycle", "ms");
    private static final Chart MEMORY = new Chart("vmm-memory", "VMM: resident memory beyond guest RAM", "MiB");
    private static final Chart SCHED = new Chart("scheduler", "scheduler: ferrite vs the host's Linux",
            "ns per round trip or message");
    private static final Chart ALLOC = new Chart("allocator", "allocator: ferrite vs the host's Linux", "ns per pair or page");
    private static final Chart BLOCK = new Chart("block", "block: ferrite's virtio-blk reads", "µs per request");
    private static final Chart CACHE = new Chart("page-cache", "page cache: ferrite's file workloads per policy",
            "µs per call");

    private static final Chart FIO = new Chart("page-cache-fio",
            "page cache: concurrent mixed reads and writes per policy (fio)", "µs per 4 KiB I/O");

    private static final Map<String, Figure> BY_METHOD = catalog();
    private static final List<String> ORDER = List.copyOf(BY_METHOD.keySet());

    private static Map<String, Figure> catalog() {
        Map<String, Figure> c = new LinkedHashMap<>();
        Area exits = new Area(c, "VMM", QEMU, EXITS, Unit.US);
        exits.add("ExitBenchmark.portIo", "port-I/O exit",
                "port-I/O exit round trip (guest `out` in kernel code -> VMM device -> guest)", "per exit");
        exits.add("ExitBenchmark.mmio", "MMIO exit",
                "MMIO exit round trip (32-bit read of a virtio-mmio register)", "per exit");
        exits.add("ExitBenchmark.virtioRoundTrip", "virtio request, null disk",
                "virtio request round trip on a media-less disk, 512 B at queue depth 1 "
                        + "(ioeventfd -> device thread -> used ring and irqfd)", "per request");
        // No peer: QEMU's device code cannot be driven by a mock driver.
        new Area(c, "VMM", "", EXITS, Unit.US).add("VirtqueueBenchmark.requests", "virtqueue, mock driver (no KVM)",
                "virtqueue processing, mock driver, no KVM (virtio-blk reads on a null backend, "
                        + "64 per notification)", "per request");
        // No peer either: the device model alone, on the device thread or on its I/O threads;
        // backends: file (a page-cached image), slow (the same behind a 100 µs wait per call), null.
        Area device = new Area(c, "VMM", "", BLOCK_DEVICE, Unit.US);
        for (String[] w : new String[][] {
            {"randread4kQd1", "4 KiB random reads, QD 1", "per 4 KiB read"},
            {"randread4kQd32", "4 KiB random reads, QD 32", "per 4 KiB read"},
            {"seqread1mQd8", "1 MiB sequential reads, QD 8", "per 1 MiB read"},
            {"randwrite4kQd32", "4 KiB random writes, QD 32", "per 4 KiB write"}}) {
            device.add("BlkDeviceBenchmark." + w[0], "virtio-blk model, " + w[1] + ", {backend}, {ioThreads} I/O threads",
                    "virtio-blk device model, mock driver, no KVM (" + w[1] + ", {backend} backend, "
                            + "{ioThreads} I/O threads)", w[2]);
        }
        // The peer is the same call without the filter, in the same run (sandbox=none).
        Area sandbox = new Area(c, "VMM", "", EXITS, Unit.US);
        sandbox.add("SandboxBenchmark.ioctlKvmRun", "ioctl(KVM_RUN) syscall, sandbox {sandbox}",
                "the ioctl a vCPU exit makes (KVM_RUN's number on fd -1: EBADF), seccomp sandbox {sandbox}", "per call");
        sandbox.add("SandboxBenchmark.getpid", "getpid syscall, sandbox {sandbox}",
                "getpid, seccomp sandbox {sandbox}", "per call");
        Area startup = new Area(c, "VMM", QEMU, STARTUP, Unit.MS);
        startup.add("StartupBenchmark.startToBanner", "start -> banner",
                "process start -> ferrite's banner (512 MiB guest)", "");
        startup.add("StartupBenchmark.startToExit", "start -> exit",
                "process start -> VMM exit (ferrite boots and ends the VM)", "");
        startup.add("ServedStartupBenchmark.startToBanner", "start -> banner, panvm serve",
                "process start -> ferrite's banner (512 MiB guest), panvm through a warm 'panvm serve' worker", "");
        startup.add("ServedStartupBenchmark.startToExit", "start -> exit, panvm serve",
                "process start -> VMM exit, panvm through a warm 'panvm serve' worker", "");
        startup.add("VmLifecycleBenchmark.startRunTearDown", "VM start, run, tear-down",
                "VM started, run to exit and torn down (panvm: all in one process; QEMU: a process per VM)", "per VM");
        c.computeIfPresent("VmLifecycleBenchmark.startRunTearDown", (m, f) -> f.withRate("VMs/s"));
        new Area(c, "VMM", QEMU, MEMORY, Unit.MIB).add("StartupBenchmark.residentMemory", "resident memory beyond RAM",
                "resident memory beyond guest RAM, after a workload (512 MiB guest)", "");
        new Area(c, "VMM", QEMU, MEMORY, Unit.MIB).add("ServedStartupBenchmark.residentMemory",
                "resident memory beyond RAM, panvm serve", "resident memory beyond guest RAM, after a workload "
                        + "(512 MiB guest), panvm's 'panvm serve' worker", "");
        for (String m : new String[] {"StartupBenchmark.residentMemory", "ServedStartupBenchmark.residentMemory"}) {
            c.computeIfPresent(m, (k, f) -> f.withMetric(SecondaryMetrics.RSS_BEYOND_RAM));
        }

        Area sched = new Area(c, "scheduler", HOST_LINUX, SCHED, Unit.NS);
        sched.add("SchedBenchmark.pipeSameCpu", "pipe ping-pong, one CPU", "pipe ping-pong, both threads on one CPU",
                "per round trip");
        sched.add("SchedBenchmark.pipeCrossCpu", "pipe ping-pong, two CPUs", "pipe ping-pong, threads on two CPUs",
                "per round trip");
        sched.add("SchedBenchmark.hackbench", "hackbench, {groups} groups",
                "hackbench, {groups} groups x 20 threads, 100-byte messages", "per message");

        Area alloc = new Area(c, "allocator", HOST_LINUX, ALLOC, Unit.NS);
        alloc.add("AllocBenchmark.kmalloc", "kmalloc+kfree, {threads} thread(s)",
                "kmalloc+kfree, sizes 8..4096, {threads} thread(s) (Linux: glibc malloc+free)", "per pair");
        alloc.add("AllocBenchmark.kmallocProducerConsumer", "kmalloc, freed on the other CPU",
                "kmalloc on one CPU, kfree on the other, sizes 8..4096 (Linux: glibc malloc+free)", "per pair");
        alloc.add("AllocBenchmark.pages", "page alloc+free",
                "order-0 page alloc+free (Linux: page fault + MADV_DONTNEED)", "per page");

        Area block = new Area(c, "block", QEMU, BLOCK, Unit.US);
        block.add("BlockBenchmark.randread4kQd1", "4 KiB random, QD 1", "4 KiB random reads, queue depth 1",
                "per 4 KiB read");
        block.add("BlockBenchmark.randread4kQd32", "4 KiB random, QD 32", "4 KiB random reads, queue depth 32",
                "per 4 KiB read");
        block.add("BlockBenchmark.seqread1mQd8", "1 MiB sequential, QD 8", "1 MiB sequential reads, queue depth 8",
                "per 1 MiB read");

        // FileBenchmark: one figure per workload, policy and cache state
        Area cache = new Area(c, "page cache", QEMU, CACHE, Unit.US);
        for (String[] w : new String[][] {
            {"seqread", "64 KiB reads of a 32 MiB file", "per 64 KiB read"},
            {"randread", "4 KiB random reads", "per 4 KiB read"},
            {"mixed", "4 KiB random or sequential reads", "per 4 KiB read"},
            {"scanhot", "a 512-page hot set between scans", "per 4 KiB read"},
            {"filewrite", "64 KiB overwrites of the file, then sync", "per 64 KiB write"}}) {
            cache.add("FileBenchmark." + w[0], w[0] + " {policy} {cache}",
                    w[0] + ", " + w[1] + ", {policy}, {cache} cache", w[2]);
        }
        // FioBenchmark: policies compared with each other (LRU and ARC the baselines), no peer
        new Area(c, "page cache", "", FIO, Unit.US).add("FioBenchmark.randrw", "fio {jobs} job(s) {rwmixread}% reads {policy}",
                "fio, {jobs} job(s) on 2 vCPUs sharing the cache, 4 KiB Zipf(0.9) I/O, {rwmixread} % reads, {policy}",
                "per 4 KiB I/O");
        return Collections.unmodifiableMap(c);
    }

    private Figures() {
    }

    /** The areas in the order the report lists them. */
    static List<String> areas() {
        return Stream.concat(BY_METHOD.values().stream().map(Figure::area), Stream.of(OTHER)).distinct().toList();
    }

    /** A benchmark's place in the catalog, after which the report lists its rows; unknown ones come last. */
    static int rank(String shortName) {
        int i = ORDER.indexOf(shortName);
        return i < 0 ? ORDER.size() : i;
    }

    /** Whether the catalog knows {@code shortName} ({@code ExitBenchmark.portIo}). */
    static boolean known(String shortName) {
        return BY_METHOD.containsKey(shortName);
    }

    /**
     * The figure for a result of benchmark {@code shortName} with {@code params}; for a benchmark
     * the catalog does not know, one named by JMH in JMH's unit, in a chart of that unit.
     */
    static Figure of(String shortName, Map<String, String> params, Unit jmhUnit) {
        Figure f = BY_METHOD.get(shortName);
        if (f == null) {
            String slug = jmhUnit.symbol().replaceAll("[^A-Za-z0-9]+", "-").toLowerCase(Locale.ROOT);
            Chart chart = new Chart(OTHER + "-" + slug, "benchmarks not in the report's catalog", jmhUnit.symbol());
            f = new Figure(OTHER, chart, "", shortName, shortName, jmhUnit, "",
                    Optional.empty(), Optional.empty());
        }
        return f.resolve(params);
    }

    /** How the table names a system ({@code vmm} parameter). */
    static String systemName(String vmm) {
        return switch (vmm) {
            case QEMU -> "QEMU";
            case HOST_LINUX -> "host Linux";
            default -> vmm;
        };
    }

    /** Figures of one area drawn in one chart, compared with one peer, shown in one unit. */
    private record Area(Map<String, Figure> catalog, String name, String peer, Chart chart, Unit unit) {
        void add(String method, String label, String text, String per) {
            catalog.put(method, new Figure(name, chart, peer, label, text, unit, per, Optional.empty(),
                    Optional.empty()));
        }
    }
}
