package dev.panvm.bench;

import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.mock.SimulatedBlkDriver;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The crash-durability check of scripts/blk-crash-test: does an acknowledged FLUSH mean the
 * writes before it are in the image? Each trial starts a child JVM that drives a
 * {@link VirtioBlk} on a raw image through {@link SimulatedBlkDriver} (no guest, no KVM: this
 * exercises the device model and its file backend). The child writes rounds: {@value #BLOCKS}
 * 4 KiB blocks each carrying the round's number, made available together with a FLUSH right
 * behind them (so the writes are still in flight on the I/O threads when the FLUSH arrives), and
 * prints {@code acked N} when the FLUSH of round N completes; then the next round. The parent
 * kills the child with SIGKILL as soon as it reads an ack and checks that every block holds
 * round N or a later one, whole. A kill takes the process, not the host's page cache, so this
 * checks that the device acknowledges a FLUSH only after the writes before it reached the
 * kernel (and the fdatasync returned), not what a power cut would leave on the disk.
 *
 * <pre>
 *   BlkCrashTest --image PATH [--trials N] [--io-threads N]     the parent
 *   BlkCrashTest child PATH FIRST_ROUND IO_THREADS                one trial's child
 * </pre>
 * The parent prints {@code trials N lost L} and exits 1 when L is not 0.
 */
public final class BlkCrashTest {
    static final int BLOCKS = 16;
    private static final int BLOCK = 4096;
    private static final long MAGIC = 0x4b4c42_4d564e50L; // "PNVMBLK" little-endian
    private static final long CHILD_TIMEOUT_SECONDS = 60;

    private BlkCrashTest() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 4 && args[0].equals("child")) {
            child(Path.of(args[1]), Long.parseLong(args[2]), Integer.parseInt(args[3]));
            return;
        }
        Path image = null;
        int trials = 100;
        int ioThreads = VirtioBlk.DEFAULT_IO_THREADS;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--image" -> image = Path.of(args[++i]);
                case "--trials" -> trials = Integer.parseInt(args[++i]);
                case "--io-threads" -> ioThreads = Integer.parseInt(args[++i]);
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (image == null) {
            usage("--image is required");
        }
        System.exit(parent(image, trials, ioThreads) == 0 ? 0 : 1);
    }

    private static void usage(String problem) {
        System.err.println("BlkCrashTest: " + problem);
        System.err.println("usage: BlkCrashTest --image PATH [--trials N] [--io-threads N]");
        System.exit(2);
    }

    /** Runs the trials; returns how many lost an acknowledged round. */
    private static int parent(Path image, int trials, int ioThreads) throws IOException, InterruptedException {
        Files.write(image, new byte[BLOCKS * BLOCK]);
        String java = ProcessHandle.current().info().command().orElse("java");
        String classpath = System.getProperty("java.class.path");
        long nextRound = 1;
        int lost = 0;
        for (int t = 1; t <= trials; t++) {
            Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", classpath,
                    BlkCrashTest.class.getName(), "child", image.toString(), Long.toString(nextRound),
                    Integer.toString(ioThreads))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            long acked = awaitAck(child);
            child.destroyForcibly(); // SIGKILL: no shutdown hooks, no flushing of anything
            if (!child.waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("trial " + t + ": the child did not die");
            }
            if (acked < 0) {
                throw new IllegalStateException("trial " + t + ": the child ended without an ack (exit "
                        + child.exitValue() + ")");
            }
            List<String> problems = check(image, acked);
            if (!problems.isEmpty()) {
                lost++;
                System.out.printf("trial %d: acked round %d, but %s%n", t, acked, String.join("; ", problems));
            }
            nextRound = Math.max(acked, newestRound(image)) + 1;
        }
        System.out.printf("trials %d lost %d%n", trials, lost);
        return lost;
    }

    /** The round of the child's first {@code acked N} line, or -1 if it ended without one. */
    private static long awaitAck(Process child) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII));
        for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith("acked ")) {
                return Long.parseLong(line.substring("acked ".length()).trim());
            }
        }
        return -1;
    }

    /** What is wrong with the image after round {@code acked} was acknowledged; empty when nothing. */
    private static List<String> check(Path image, long acked) throws IOException {
        List<String> problems = new ArrayList<>();
        ByteBuffer disk = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < BLOCKS; i++) {
            long round = round(disk, i);
            if (round < 0) {
                problems.add("block " + i + " is torn or was never written");
            } else if (round < acked) {
                problems.add("block " + i + " holds round " + round);
            }
        }
        return problems;
    }

    /** The newest whole round in any block of the image. */
    private static long newestRound(Path image) throws IOException {
        ByteBuffer disk = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        long newest = 0;
        for (int i = 0; i < BLOCKS; i++) {
            newest = Math.max(newest, round(disk, i));
        }
        return newest;
    }

    /** Block {@code i}'s round, or -1 unless the block is whole: magic, round, index and filler all agree. */
    private static long round(ByteBuffer disk, int i) {
        int at = i * BLOCK;
        long round = disk.getLong(at + 8);
        if (disk.getLong(at) != MAGIC || disk.getLong(at + 16) != i) {
            return -1;
        }
        byte fill = filler(round, i);
        for (int b = 24; b < BLOCK; b++) {
            if (disk.get(at + b) != fill) {
                return -1;
            }
        }
        return round;
    }

    private static byte filler(long round, int block) {
        return (byte) (round * 31 + block);
    }

    /** The child: rounds from {@code firstRound} until killed. */
    private static void child(Path image, long firstRound, int ioThreads) throws Exception {
        try (FileBackend file = FileBackend.open(image, false);
             SimulatedBlkDriver blk = new SimulatedBlkDriver(file, ioThreads, 256, 4L << 20)) {
            SimulatedBlkDriver.Slot[] writes = new SimulatedBlkDriver.Slot[BLOCKS];
            for (int i = 0; i < BLOCKS; i++) {
                writes[i] = blk.slot(BlockRequest.VIRTIO_BLK_T_OUT, BLOCK);
            }
            SimulatedBlkDriver.Slot flush = blk.slot(BlockRequest.VIRTIO_BLK_T_FLUSH, 0);
            for (long round = firstRound; ; round++) {
                for (int i = 0; i < BLOCKS; i++) {
                    fill(blk.data(writes[i]), round, i);
                    blk.post(writes[i], (long) i * BLOCK / BlockRequest.SECTOR_SIZE);
                }
                blk.post(flush, 0);
                blk.kick();
                int[] returned = {0};
                boolean[] flushed = {false};
                while (returned[0] < BLOCKS + 1) {
                    blk.reap(head -> {
                        returned[0]++;
                        flushed[0] |= head == flush.head();
                    });
                    if (flushed[0]) {
                        if (blk.status(flush) != VirtioBlk.VIRTIO_BLK_S_OK) {
                            throw new IllegalStateException("FLUSH failed with status " + blk.status(flush));
                        }
                        System.out.println("acked " + round);
                        System.out.flush();
                        flushed[0] = false;
                    }
                    Thread.onSpinWait();
                }
            }
        }
    }

    /** A block of round {@code round}: magic, round, block index, then a filler that depends on both. */
    private static void fill(MemorySegment block, long round, int index) {
        LittleEndian.putU64(block, 0, MAGIC);
        LittleEndian.putU64(block, 8, round);
        LittleEndian.putU64(block, 16, index);
        block.asSlice(24).fill(filler(round, index));
    }
}
