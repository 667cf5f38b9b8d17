package dev.panvm.virtio.blk;

import dev.panvm.virtio.ConfigSpace;
import dev.panvm.virtio.DeviceType;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.blk.BlockRequest.Discard;
import dev.panvm.virtio.blk.BlockRequest.Flush;
import dev.panvm.virtio.blk.BlockRequest.GetId;
import dev.panvm.virtio.blk.BlockRequest.In;
import dev.panvm.virtio.blk.BlockRequest.Malformed;
import dev.panvm.virtio.blk.BlockRequest.Out;
import dev.panvm.virtio.blk.BlockRequest.Segment;
import dev.panvm.virtio.blk.BlockRequest.Unsupported;
import dev.panvm.virtio.blk.BlockRequest.WriteZeroes;
import dev.panvm.virtio.blk.BlockRequestParser.ParsedChain;
import dev.panvm.virtio.queue.DescriptorChain;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The virtio block device (virtio 1.2, 5.2): one request queue.
 *
 * <p>Execution: the thread that processes the queue parses each request; reads, writes,
 * flushes, discards and write zeroes then run on a small pool of I/O threads
 * ({@value #DEFAULT_IO_THREADS} by default, named {@code panvm-blk-io-ID-N}, started on demand and
 * ended after {@value #IO_THREAD_KEEP_ALIVE_SECONDS} s idle), so that a queue depth of 32 or
 * eight 1 MiB reads are served side by side, and each completes as soon as its backend call
 * returns, in any order (2.7.8; see {@link dev.panvm.virtio.VirtioDeviceBase} for how
 * completions reach the used ring, one notification per batch). Requests that do not touch the
 * backend (GET_ID, malformed or unsupported ones) complete at once, and so does a request alone
 * (none in flight, none behind it in the ring): with nothing to overlap it with, the hand-off
 * would only add its cost. With 0 I/O threads every request runs on the queue's thread, one
 * after another, in the order the driver made them available: the device's behaviour before it
 * had I/O threads, and still the faster one for a backend that never waits
 * ({@link BlockBackend#blocks}), which gets no I/O threads by default.
 *
 * <p>Durability: the device offers VIRTIO_BLK_F_FLUSH and completes a FLUSH only after every
 * request submitted before it finished and the backend's flush (fdatasync) then returned
 * ({@link FlushBarrier}); if the driver does not negotiate FLUSH, every write is flushed before
 * it completes (5.2.6.4, a writethrough cache). A read-only backend is offered with
 * VIRTIO_BLK_F_RO and every write is refused with VIRTIO_BLK_S_IOERR, writing nothing. A backend
 * error (an IOException: EIO, ENOSPC) fails that request alone with VIRTIO_BLK_S_IOERR, and the
 * device goes on.
 */
public final class VirtioBlk extends VirtioDeviceBase {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlk.class);

    public static final int VIRTIO_BLK_F_SEG_MAX = 2;
    public static final int VIRTIO_BLK_F_RO = 5;
    public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
    public static final int VIRTIO_BLK_F_FLUSH = 9;
    public static final int VIRTIO_BLK_F_DISCARD = 13;
    public static final int VIRTIO_BLK_F_WRITE_ZEROES = 14;

    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    public static final int DEFAULT_QUEUE_SIZE = 256;
    /**
     * I/O threads of a device on a backend that waits (an image file): enough to keep a host
     * SSD's queue busy from one virtqueue without a thread per request; a request queue of
     * fewer entries gets as many threads as it has entries.
     */
    public static final int DEFAULT_IO_THREADS = 4;
    /** The most I/O threads a device may have (QEMU's thread pool stops at 64 too). */
    public static final int MAX_IO_THREADS = 64;
    static final long IO_THREAD_KEEP_ALIVE_SECONDS = 30;
    /** Discards are cheap (nothing is written); 2 GiB per segment. */
    static final long MAX_DISCARD_SECTORS = 1L << 22;
    /** Write zeroes really writes: 32 MiB per segment keeps one request from stalling the queue. */
    static final long MAX_WRITE_ZEROES_SECTORS = 1L << 16;
    static final int MAX_SEGMENTS = 8;

    private final BlockBackend backend;
    private final BlockLimits limits;
    private final ConfigSpace config;
    private final long features;
    private final MemorySegment deviceId;
    private final BlockMetrics metrics = new BlockMetrics();
    /** Where backend requests run; null: on the queue's thread. */
    private final FlushBarrier io;
    /** The device's own I/O threads, shut down with it; null when it has none. */
    private final ExecutorService ownThreads;
    // Set at activation, before any request is handed to an I/O thread.
    private boolean writeThrough;

    /** A device with a request queue of {@link #DEFAULT_QUEUE_SIZE} entries. */
    public VirtioBlk(BlockBackend backend) {
        this(backend, DEFAULT_QUEUE_SIZE);
    }

    /**
     * A device with a request queue of {@code queueSize} entries and the default I/O threads:
     * {@link #DEFAULT_IO_THREADS} (at most {@code queueSize}) for a backend that
     * {@link BlockBackend#blocks blocks}, none for one that does not.
     */
    public VirtioBlk(BlockBackend backend, int queueSize) {
        this(backend, queueSize, backend.blocks() ? Math.min(DEFAULT_IO_THREADS, queueSize) : 0);
    }

    /**
     * A device that runs backend requests on {@code ioThreads} threads of its own (at most
     * {@link #MAX_IO_THREADS}); 0: on the queue's thread.
     */
    public VirtioBlk(BlockBackend backend, int queueSize, int ioThreads) {
        ExecutorService pool = ioThreads == 0 ? null : ioPool(backend.deviceId(), ioThreads);
        this(backend, queueSize, pool, pool);
    }

    /**
     * A device that runs backend requests on {@code io}, which the caller owns (and shuts down
     * after {@link #shutdown}): a pool shared by several devices, or a test's own schedule.
     */
    public VirtioBlk(BlockBackend backend, int queueSize, Executor io) {
        this(backend, queueSize, Objects.requireNonNull(io, "io"), null);
    }

    private VirtioBlk(BlockBackend backend, int queueSize, Executor io, ExecutorService ownThreads) {
        super(DeviceType.BLOCK_DEVICE, 1, queueSize);
        this.io = io == null ? null : new FlushBarrier(io);
        this.ownThreads = ownThreads;
        this.backend = backend;
        long size = backend.size();
        if (size % BlockRequest.SECTOR_SIZE != 0) {
            LOG.warn("virtio-blk: backend size {} is not a multiple of 512; the device exposes {} sectors and the last {} bytes are unreachable",
                    size, size / BlockRequest.SECTOR_SIZE, size % BlockRequest.SECTOR_SIZE);
        }
        boolean ro = backend.isReadOnly();
        boolean discard = !ro && backend.supportsDiscard();
        boolean writeZeroes = !ro && backend.supportsWriteZeroes();
        this.limits = new BlockLimits(size / BlockRequest.SECTOR_SIZE, ro,
                discard ? MAX_DISCARD_SECTORS : 0, discard ? MAX_SEGMENTS : 0,
                writeZeroes ? MAX_WRITE_ZEROES_SECTORS : 0, writeZeroes ? MAX_SEGMENTS : 0);
        // 5.2.3: seg_max leaves room for the header and status descriptors of a request.
        this.config = BlockConfig.build(limits, Math.max(1, queueSize - 2));
        long f = FeatureBits.TRANSPORT_FEATURES
                | FeatureBits.bit(VIRTIO_BLK_F_SEG_MAX)
                | FeatureBits.bit(VIRTIO_BLK_F_BLK_SIZE)
                | FeatureBits.bit(VIRTIO_BLK_F_FLUSH);
        if (ro) {
            f |= FeatureBits.bit(VIRTIO_BLK_F_RO);
        }
        if (discard) {
            f |= FeatureBits.bit(VIRTIO_BLK_F_DISCARD);
        }
        if (writeZeroes) {
            f |= FeatureBits.bit(VIRTIO_BLK_F_WRITE_ZEROES);
        }
        this.features = f;
        this.deviceId = idBytes(backend.deviceId());
    }

    /** {@code threads} daemon threads named {@code panvm-blk-io-ID-N}, started on demand, ended when idle. */
    private static ExecutorService ioPool(String deviceId, int threads) {
        if (threads < 0 || threads > MAX_IO_THREADS) {
            throw new IllegalArgumentException("I/O threads must be between 0 and " + MAX_IO_THREADS + ", got " + threads);
        }
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads,
                IO_THREAD_KEEP_ALIVE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                Thread.ofPlatform().name("panvm-blk-io-" + deviceId + "-", 0).daemon().factory());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** The ID string, NUL-padded to 20 bytes (no terminator when it is 20 bytes long). */
    private static MemorySegment idBytes(String id) {
        byte[] ascii = id.getBytes(StandardCharsets.US_ASCII);
        byte[] padded = new byte[BlockRequest.ID_BYTES];
        System.arraycopy(ascii, 0, padded, 0, Math.min(ascii.length, padded.length));
        return MemorySegment.ofArray(padded);
    }


    @Override
    public long features() {
        return features;
    }



    @Override
    public void readConfig(long offset, MemorySegment data) {
        config.read(offset, data);
    }

    @Override
    public void writeConfig(long offset, MemorySegment data) {
        // No writable field without VIRTIO_BLK_F_CONFIG_WCE.
        ignoredConfigWrite(offset, data);
    }

    @Override
    protected void onActivate(Activation a) {
        writeThrough = !a.hasFeature(VIRTIO_BLK_F_FLUSH);
    }

    @Override
    protected void handleQueue(int index, Activation a) {
        drain(index, a, (chain, act) -> handle(index, chain, act));
    }

    /** Stops the device's own I/O threads: they end once their requests are done. */
    @Override
    protected void onShutdown() {
        if (ownThreads != null) {
            ownThreads.shutdown();
        }
    }

    public BlockMetrics metrics() {
        return metrics;
    }

    /** Capacity in 512-byte sectors. */
    public long capacity() {
        return limits.capacity();
    }

    /**
     * Takes one chain of queue {@code index}: parses it, then completes it here, or hands it to
     * an I/O thread ({@link ChainHandler#DEFERRED}) if it needs the backend, the device has I/O
     * threads, and there is another request it could overlap with (one in flight or one more in
     * the ring): a request alone gains nothing from the hand-off but its cost. A FLUSH goes
     * behind the requests before it ({@link FlushBarrier}).
     */
    private long handle(int index, DescriptorChain chain, Activation a) {
        return switch (BlockRequestParser.parse(chain, a.memory(), limits)) {
            case ParsedChain.NoStatusByte n -> {
                metrics.unanswerable.increment();
                guestErrors.report("no-status", "chain " + chain.headIndex() + ": " + n.reason());
                yield 0;
            }
            case ParsedChain.Request r when io != null && usesBackend(r.request()) && !alone(index, a) -> {
                DeferredChain d = defer(index, chain, a);
                Runnable task = () -> finishDeferred(d, () -> complete(chain, r, a));
                if (r.request() instanceof Flush) {
                    io.executeFlush(task);
                } else {
                    io.execute(task);
                }
                yield ChainHandler.DEFERRED;
            }
            case ParsedChain.Request r -> complete(chain, r, a);
        };
    }

    private static boolean alone(int index, Activation a) {
        return a.deferred(index) == 0 && !a.queues().get(index).hasAvailable();
    }

    private static boolean usesBackend(BlockRequest request) {
        return switch (request) {
            case In _, Out _, Flush _, Discard _, WriteZeroes _ -> true;
            case GetId _, Unsupported _, Malformed _ -> false;
        };
    }

    /**
     * Executes a request and writes its status byte; returns the used length: the bytes written
     * into the device-writable area from its start, without a gap (2.7.8.1: "the device MUST
     * write at least len bytes to descriptor, beginning at the first device-writable buffer"; an
     * underestimate is allowed, an overestimate is not). The status byte is the area's last byte,
     * so it counts only when every data byte before it was written: a read that failed, or
     * GET_ID into a buffer longer than the 20-byte ID, wrote a prefix and the status byte after a
     * gap, and len is that prefix (0 for the failed read, 20 for GET_ID). QEMU reports the whole
     * writable length whatever it wrote; Linux's virtio_blk ignores len.
     */
    private long complete(DescriptorChain chain, ParsedChain.Request r, Activation a) {
        Completion c = execute(r.request(), a);
        if (a.isRevoked()) {
            // A reset ended the setup while the backend had the request: not even the status
            // byte goes into memory the driver may have reused.
            return 0;
        }
        a.memory().slice(r.statusAddress(), 1).set(ValueLayout.JAVA_BYTE, 0, (byte) c.status());
        long dataArea = chain.writable().length() - 1;
        return c.written() == dataArea ? dataArea + 1 : c.written();
    }

    /**
     * A status and how many bytes of the request's writable data area the device wrote, from
     * its start without a gap.
     */
    private record Completion(int status, long written) {
        static final Completion OK = new Completion(VIRTIO_BLK_S_OK, 0);
        static final Completion IOERR = new Completion(VIRTIO_BLK_S_IOERR, 0);
        static final Completion UNSUPP = new Completion(VIRTIO_BLK_S_UNSUPP, 0);
    }

    private Completion execute(BlockRequest request, Activation a) {
        try {
            return switch (request) {
                case In in -> read(in, a);
                case Out out -> write(out, a);
                case Flush f -> flush();
                case GetId id -> getId(id, a);
                case Discard d -> discard(d);
                case WriteZeroes w -> writeZeroes(w);
                case Unsupported u -> {
                    metrics.unsupported.increment();
                    guestErrors.report("unsupported", u.reason());
                    yield Completion.UNSUPP;
                }
                case Malformed m -> {
                    metrics.malformed.increment();
                    guestErrors.report("malformed", m.reason());
                    yield Completion.IOERR;
                }
            };
        } catch (IOException e) {
            metrics.backendErrors.increment();
            guestErrors.report("backend", request.getClass().getSimpleName() + ": " + e);
            return Completion.IOERR;
        }
    }

    private Completion read(In in, Activation a) throws IOException {
        long offset = in.sector() * BlockRequest.SECTOR_SIZE;
        long written = 0;
        boolean gap = false;
        for (MemorySegment dst : in.data().segments(a.memory())) {
            long n = backend.read(offset, dst);
            // Only the prefix up to the first segment the backend skipped counts (a backend
            // that skips the data, the null one, writes none of it).
            gap |= n != dst.byteSize();
            if (!gap) {
                written += n;
            }
            offset += dst.byteSize();
        }
        metrics.reads.increment();
        metrics.readBytes.add(in.data().length());
        return new Completion(VIRTIO_BLK_S_OK, written);
    }

    private Completion write(Out out, Activation a) throws IOException {
        if (limits.readOnly()) {
            return refuseReadOnly("OUT");
        }
        long offset = out.sector() * BlockRequest.SECTOR_SIZE;
        for (MemorySegment src : out.data().segments(a.memory())) {
            backend.write(offset, src);
            offset += src.byteSize();
        }
        if (writeThrough) {
            backend.flush();
        }
        metrics.writes.increment();
        metrics.writeBytes.add(out.data().length());
        return Completion.OK;
    }

    private Completion flush() throws IOException {
        if (!limits.readOnly()) {
            backend.flush();
        }
        metrics.flushes.increment();
        return Completion.OK;
    }

    /** 5.2.6: the NUL-padded ID, 20 bytes at most; a longer buffer's rest is left as it was. */
    private Completion getId(GetId id, Activation a) {
        long n = Math.min(BlockRequest.ID_BYTES, id.data().length());
        id.data().first(n).copyFrom(a.memory(), deviceId.asSlice(0, n));
        metrics.getIds.increment();
        return new Completion(VIRTIO_BLK_S_OK, n);
    }

    private Completion discard(Discard d) throws IOException {
        if (limits.readOnly()) {
            return refuseReadOnly("DISCARD");
        }
        for (Segment s : d.segments()) {
            backend.discard(s.sector() * BlockRequest.SECTOR_SIZE, s.numSectors() * BlockRequest.SECTOR_SIZE);
        }
        metrics.discards.increment();
        return Completion.OK;
    }

    private Completion writeZeroes(WriteZeroes w) throws IOException {
        if (limits.readOnly()) {
            return refuseReadOnly("WRITE_ZEROES");
        }
        for (Segment s : w.segments()) {
            backend.writeZeroes(s.sector() * BlockRequest.SECTOR_SIZE, s.numSectors() * BlockRequest.SECTOR_SIZE);
        }
        if (writeThrough) {
            backend.flush();
        }
        metrics.writeZeroes.increment();
        return Completion.OK;
    }

    /** 5.2.6.4: with VIRTIO_BLK_F_RO offered, writes fail with IOERR and write nothing. */
    private Completion refuseReadOnly(String what) {
        metrics.readOnlyRefusals.increment();
        guestErrors.report("read-only", what + " to a read-only device");
        return Completion.IOERR;
    }
}
