package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite reads a file from an ext2 image made by the host's mke2fs, through its page cache
 * and virtio-blk driver, with every replacement policy; the checksum must match the host's.
 * The seeded random-access workloads (randread, mixed, scanhot) are checked for a well-formed
 * result and for what each policy must do by design. Those workloads and the policies are
 * deterministic and the checks run without read-ahead (which completes asynchronously), so the
 * hit counts are deterministic too: a check either always holds or always fails.
 */
class FerriteExt2KvmTest {
    private static final List<String> POLICIES = List.of("lru", "clock", "arc", "lecar", "qlearn", "qrule");
    /** big.bin: 3 MiB, in 4 KiB blocks. */
    private static final int FILE_BLOCKS = 768;
    /**
     * Pages besides the file's data a run reads through the cache: superblock, group
     * descriptors, inode table and directory blocks, the file's indirect block (6 here).
     */
    private static final int METADATA_PAGES_AT_MOST = 16;

    @TempDir
    static Path dir;
    static Path image;
    static String expectedSha256;

    @BeforeAll
    static void makeImage() throws Exception {
        KvmTestSupport.assumeKvm();
        Path tree = Files.createDirectories(dir.resolve("tree/d"));
        byte[] data = new byte[FILE_BLOCKS * 4096];
        new Random(7).nextBytes(data);
        Files.write(tree.resolve("big.bin"), data);
        Files.writeString(dir.resolve("tree/small.txt"), "hi\n");
        expectedSha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        image = dir.resolve("ext2.img");
        Process p = new ProcessBuilder(KvmTestSupport.e2fsprogs("mke2fs"), "-q", "-t", "ext2", "-b", "4096",
                "-d", dir.resolve("tree").toString(),
                image.toString(), "16M").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "mke2fs failed: " + out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lru", "clock", "arc", "lecar", "qlearn", "qrule"})
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
        KvmTestSupport.assumeQemu();
        FerriteQemuKvmTest.Run r = FerriteQemuKvmTest.qemu("workload=" + workload,
                "-drive", "id=d0,file=" + image + ",format=raw,if=none,readonly=on", "-device", "virtio-blk-device,drive=d0");
        assertEquals(1, r.status(), r.output());
        if (workload.contains("big.bin")) {
            assertTrue(r.output().contains("\"sha256\":\"" + expectedSha256 + "\""), r.output());
        } else {
            assertTrue(r.output().contains("\"bytes\":3"), r.output());
        }
    }

    /** A file workload's result line: the counters every check below reads. */
    record CacheRun(String policy, long ops, double hitRatio, long hits, long misses, long evictions, long deviceReads,
            String line) {}

    /**
     * Boots ferrite on panvm with {@code workload=NAME file=/d/big.bin cache=POLICY PARAMS} and checks
     * the result: one well-formed JSON object naming the workload and the policy, with hits + misses
     * > 0 and the hit ratio in [0, 1] and equal to hits / (hits + misses).
     */
    private static CacheRun run(String workload, String policy, String params) throws Exception {
        KvmTestSupport.Capture serial = new KvmTestSupport.Capture();
        MachineConfig config = new MachineConfig(KvmTestSupport.ferrite(),
                "workload=" + workload + " file=/d/big.bin cache=" + policy + " " + params, 256L << 20, 1,
                BootProtocol.DIRECT, serial, List.of(new DeviceSpec.Disk(image, true)));
        try (Machine m = Machine.create(config)) {
            assertEquals(new GuestOutcome.Exited(0), m.run(Duration.ofSeconds(60)), serial.text());
        }
        String line = KvmTestSupport.resultLine(serial.text(), workload);
        JsonNode r = KvmTestSupport.parseJson(line);
        assertEquals(policy, r.path("cache").asText(), line);
        long ops = number(r, "ops", line).longValue();
        long hits = number(r, "hits", line).longValue();
        long misses = number(r, "misses", line).longValue();
        double ratio = number(r, "hit_ratio", line).doubleValue();
        assertTrue(ops > 0 && hits >= 0 && misses >= 0 && hits + misses > 0, line);
        assertTrue(ratio >= 0 && ratio <= 1, "hit ratio outside [0, 1]: " + line);
        assertEquals((double) hits / (hits + misses), ratio, 0.0001, "hit_ratio is not hits / (hits + misses): " + line);
        return new CacheRun(policy, ops, ratio, hits, misses, number(r, "evictions", line).longValue(),
                number(r, "device_reads", line).longValue(), line);
    }

    private static Number number(JsonNode r, String key, String line) {
        if (r.get(key) instanceof JsonNode n && n.isNumber()) {
            return n.numberValue();
        }
        throw new AssertionError("no number \"" + key + "\" in " + line);
    }

    /**
     * Uniform random reads: the next block is independent of the past, so no policy can hit more
     * often than the share of the file it holds, at most 256 of 768 pages (metadata takes some), and
     * about 2/3 of the 3000 reads, ~2000, must miss. The seeded sequence's count may stray from that
     * by chance (one standard deviation is ~26 reads); the bound sits at 0.9 of it, 200 reads below.
     * A cache that held more pages than its capacity, or counted lookups twice, would beat it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"lru", "clock", "arc", "lecar", "qlearn", "qrule"})
    void randreadNoPolicyHitsMoreThanTheCacheHolds(String policy) throws Exception {
        int cachePages = 256;
        CacheRun r = run("randread", policy, "cache_pages=" + cachePages + " readahead=0 ops=3000 seed=42");
        assertEquals(3000, r.ops(), r.line());
        double dataMissesAtLeast = r.ops() * (1 - (double) cachePages / FILE_BLOCKS);
        assertTrue(r.misses() >= 0.9 * dataMissesAtLeast, "fewer misses than uniform random reads allow: " + r.line());
        assertEquals(r.misses(), r.deviceReads(), "without read-ahead every miss is one device read: " + r.line());
    }

    /**
     * Half random reads, half a sequential cursor through the whole file, with a cache larger than
     * the file: nothing is evicted, whatever the policy, and every block of the file is read from
     * the device exactly once (the cursor passes every block).
     */
    @ParameterizedTest
    @ValueSource(strings = {"lru", "clock", "arc", "lecar", "qlearn", "qrule"})
    void mixedReadsEveryPageOnceWhenTheFileFits(String policy) throws Exception {
        CacheRun r = run("mixed", policy, "cache_pages=1024 readahead=0 seed=42");
        assertEquals(0, r.evictions(), r.line());
        assertEquals(r.misses(), r.deviceReads(), r.line());
        assertTrue(r.misses() >= FILE_BLOCKS && r.misses() <= FILE_BLOCKS + METADATA_PAGES_AT_MOST,
                "expected each of the " + FILE_BLOCKS + " blocks (and a few metadata pages) read once: " + r.line());
        assertTrue(r.hits() >= r.ops() - FILE_BLOCKS, "every read after the first of a block must hit: " + r.line());
    }

    /**
     * A hot set of 16 pages, each read once per round, between sequential scans of 48 other pages,
     * in a 64-page cache. A hot page comes back after 63 other data pages and the inode-table page
     * every read touches: 64 other pages, so LRU has always evicted it (every data read misses).
     * ARC keeps the 64 most recent once-seen pages in T1 and its ghost list B1; a hot page
     * returns while its ghost is there, moves to T2, and a scan (which only passes through T1) never
     * evicts it again. LeCaR's LFU expert keeps the pages read every round over scan pages read once.
     * (With longer scans, hot + scan > cache, the hot pages fall out of ARC's history too and ARC
     * does no better than LRU; LeCaR still does.)
     */
    @Test
    void scanhotArcAndLecarKeepTheHotSetAScanFlushesFromLru() throws Exception {
        Map<String, CacheRun> runs = new LinkedHashMap<>();
        for (String policy : POLICIES) {
            runs.put(policy, run("scanhot", policy, "cache_pages=64 hot_pages=16 scan_pages=48 readahead=0"));
        }
        List<String> report = new ArrayList<>();
        runs.values().forEach(r -> report.add(r.policy() + " " + r.hitRatio() + " (" + r.misses() + " misses)"));
        CacheRun lru = runs.get("lru");
        assertTrue(lru.misses() >= lru.ops(), "LRU must miss every data read: " + lru.line());
        for (String policy : List.of("arc", "lecar")) {
            CacheRun r = runs.get(policy);
            assertTrue(r.hitRatio() > lru.hitRatio() + 0.02 && r.misses() < lru.ops(),
                    policy + " must keep the hot set that LRU loses: " + report);
        }
    }
}
