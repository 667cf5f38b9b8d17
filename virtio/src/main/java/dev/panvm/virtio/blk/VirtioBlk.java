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

/**
 * The virtio block device (virtio 1.2, 5.2): one request queue, requests executed synchronously
 * on the thread that processes the queue, in the order the driver made them available.
 *
 * <p>Durability: the device offers VIRTIO_BLK_F_FLUSH and completes a FLUSH only after the
 * backend's flush (fdatasync) returned; if the driver does not negotiate FLUSH, every write is
 * flushed before it completes (5.2.6.4, a writethrough cache). A read-only backend is offered
 * with VIRTIO_BLK_F_RO and every write is refused with VIRTIO_BLK_S_IOERR, writing nothing.
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
    private boolean writeThrough;

    public VirtioBlk(BlockBackend backend) {
        this(backend, DEFAULT_QUEUE_SIZE);
    }

    public VirtioBlk(BlockBackend backend, int queueSize) {
        super(DeviceType.BLOCK_DEVICE, 1, queueSize);
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
        drain(index, a, this::handle);
    }

    public BlockMetrics metrics() {
        return metrics;
    }

    /** Capacity in 512-byte sectors. */
    public long capacity() {
        return limits.capacity();
    }

    /**
     * Executes one chain; returns the used length: the bytes written into the device-writable
     * area from its start, without a gap (2.7.8.1: "the device MUST write at least len bytes to
     * descriptor, beginning at the first device-writable buffer"; an underestimate is allowed,
     * an overestimate is not). The status byte is the area's last byte, so it counts only when
     * every data byte before it was written: a read that failed, or GET_ID into a buffer longer
     * than the 20-byte ID, wrote a prefix and the status byte after a gap, and len is that prefix
     * (0 for the failed read, 20 for GET_ID). QEMU reports the whole writable length whatever it
     * wrote; Linux's virtio_blk ignores len.
     */
    private long handle(DescriptorChain chain, Activation a) {
        return switch (BlockRequestParser.parse(chain, a.memory(), limits)) {
            case ParsedChain.NoStatusByte n -> {
                metrics.unanswerable.increment();
                guestErrors.report("no-status", "chain " + chain.headIndex() + ": " + n.reason());
                yield 0;
            }
            case ParsedChain.Request r -> {
                Completion c = execute(r.request(), a);
                if (a.isRevoked()) {
                    // A reset gave up on this request while the backend had it: not even the
                    // status byte goes into memory the driver may have reused.
                    yield 0;
                }
                a.memory().slice(r.statusAddress(), 1).set(ValueLayout.JAVA_BYTE, 0, (byte) c.status());
                long dataArea = chain.writable().length() - 1;
                yield c.written() == dataArea ? dataArea + 1 : c.written();
            }
        };
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
