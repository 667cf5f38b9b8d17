package dev.panvm.virtio.blk;

import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.blk.BlockRequest.Discard;
import dev.panvm.virtio.blk.BlockRequest.Flush;
import dev.panvm.virtio.blk.BlockRequest.GetId;
import dev.panvm.virtio.blk.BlockRequest.In;
import dev.panvm.virtio.blk.BlockRequest.Malformed;
import dev.panvm.virtio.blk.BlockRequest.Out;
import dev.panvm.virtio.blk.BlockRequest.Segment;
import dev.panvm.virtio.blk.BlockRequest.Unsupported;
import dev.panvm.virtio.blk.BlockRequest.WriteZeroes;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.ScatterGatherList;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.panvm.virtio.blk.BlockRequest.HEADER_SIZE;
import static dev.panvm.virtio.blk.BlockRequest.SECTOR_SIZE;

/**
 * Turns a descriptor chain into a {@link BlockRequest} (virtio 1.2, 5.2.6). The chain is read as
 * two byte streams, whatever its descriptor layout (2.7.4.1): the device-readable stream is the
 * 16-byte header followed by OUT data or discard/write-zeroes segments; the device-writable
 * stream is IN or GET_ID data followed by the status byte, its very last byte.
 *
 * <p>Header and segments are copied out of guest memory once, then checked, so the guest cannot
 * change them between check and use.
 */
public final class BlockRequestParser {

    /** A request and where its status byte goes, or a chain with no byte to put a status in. */
    public sealed interface ParsedChain {
        record Request(BlockRequest request, long statusAddress) implements ParsedChain {
        }

        /** Without a device-writable byte there is no way to report anything: returned unused. */
        record NoStatusByte(String reason) implements ParsedChain {
        }
    }

    private BlockRequestParser() {
    }

    public static ParsedChain parse(DescriptorChain chain, GuestMemory memory, BlockLimits limits) {
        ScatterGatherList writable = chain.writable();
        if (writable.isEmpty()) {
            return new ParsedChain.NoStatusByte("no device-writable byte for the status");
        }
        BufferElement last = writable.range(writable.length() - 1, 1).elements().getFirst();
        long statusAddress = last.address();
        return new ParsedChain.Request(parse(chain.readable(), writable.first(writable.length() - 1), memory, limits),
                statusAddress);
    }

    private static BlockRequest parse(ScatterGatherList readable, ScatterGatherList writableData,
                                      GuestMemory memory, BlockLimits limits) {
        if (readable.length() < HEADER_SIZE) {
            return new Malformed("request header of " + readable.length() + " bytes");
        }
        MemorySegment header = MemorySegment.ofArray(new byte[HEADER_SIZE]);
        readable.first(HEADER_SIZE).copyTo(memory, header);
        long type = LittleEndian.u32(header, 0);
        long sector = LittleEndian.u64(header, 8);
        ScatterGatherList readableData = readable.skip(HEADER_SIZE);

        return switch ((int) type) {
            case BlockRequest.VIRTIO_BLK_T_IN -> {
                if (!readableData.isEmpty()) {
                    yield new Malformed("IN with device-readable data");
                }
                Malformed bad = checkTransfer(sector, writableData, limits, "IN");
                yield bad != null ? bad : new In(sector, writableData);
            }
            case BlockRequest.VIRTIO_BLK_T_OUT -> {
                if (!writableData.isEmpty()) {
                    yield new Malformed("OUT with device-writable data");
                }
                Malformed bad = checkTransfer(sector, readableData, limits, "OUT");
                yield bad != null ? bad : new Out(sector, readableData);
            }
            // 5.2.6.1: the driver should send neither sector nor data; nothing to misuse if it does.
            case BlockRequest.VIRTIO_BLK_T_FLUSH -> new Flush();
            case BlockRequest.VIRTIO_BLK_T_GET_ID -> {
                if (!readableData.isEmpty() || writableData.isEmpty()) {
                    yield new Malformed("GET_ID without a device-writable buffer or with device-readable data");
                }
                yield new GetId(writableData);
            }
            case BlockRequest.VIRTIO_BLK_T_DISCARD ->
                    limits.discardOffered()
                            ? parseSegments(readableData, writableData, memory, limits, true)
                            : new Unsupported(type, "DISCARD not offered");
            case BlockRequest.VIRTIO_BLK_T_WRITE_ZEROES ->
                    limits.writeZeroesOffered()
                            ? parseSegments(readableData, writableData, memory, limits, false)
                            : new Unsupported(type, "WRITE_ZEROES not offered");
            default -> new Unsupported(type, "request type " + type);
        };
    }

    /** IN and OUT: whole sectors (5.2.6.1), all inside the capacity. Null when fine. */
    private static Malformed checkTransfer(long sector, ScatterGatherList data, BlockLimits limits, String what) {
        if (data.length() % SECTOR_SIZE != 0) {
            return new Malformed(what + " of " + data.length() + " bytes, not a multiple of 512");
        }
        if (!limits.inRange(sector, data.length() / SECTOR_SIZE)) {
            return new Malformed(String.format("%s of %d sectors at sector %s beyond the capacity of %d",
                    what, data.length() / SECTOR_SIZE, Long.toUnsignedString(sector), limits.capacity()));
        }
        return null;
    }

    /** DISCARD and WRITE_ZEROES: 1..max segments of 16 bytes, each checked (5.2.6.2). */
    private static BlockRequest parseSegments(ScatterGatherList readableData, ScatterGatherList writableData,
                                              GuestMemory memory, BlockLimits limits, boolean discard) {
        String what = discard ? "DISCARD" : "WRITE_ZEROES";
        int maxSegments = discard ? limits.maxDiscardSegments() : limits.maxWriteZeroesSegments();
        long maxSectors = discard ? limits.maxDiscardSectors() : limits.maxWriteZeroesSectors();
        if (!writableData.isEmpty()) {
            return new Malformed(what + " with device-writable data");
        }
        long length = readableData.length();
        if (length == 0 || length % Segment.SIZE != 0 || length / Segment.SIZE > maxSegments) {
            return new Malformed(what + " with " + length + " bytes of segments (at most " + maxSegments + " segments)");
        }
        int count = (int) (length / Segment.SIZE);
        MemorySegment raw = MemorySegment.ofArray(new byte[count * Segment.SIZE]);
        readableData.copyTo(memory, raw);
        List<Segment> segments = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = (long) i * Segment.SIZE;
            long sector = LittleEndian.u64(raw, at);
            long numSectors = LittleEndian.u32(raw, at + 8);
            long flags = LittleEndian.u32(raw, at + 12);
            // 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP.
            if ((flags & ~Segment.FLAG_UNMAP) != 0) {
                return new BlockRequest.Unsupported(discard ? BlockRequest.VIRTIO_BLK_T_DISCARD
                        : BlockRequest.VIRTIO_BLK_T_WRITE_ZEROES, what + " segment flags " + flags);
            }
            boolean unmap = (flags & Segment.FLAG_UNMAP) != 0;
            if (discard && unmap) {
                return new BlockRequest.Unsupported(BlockRequest.VIRTIO_BLK_T_DISCARD, "DISCARD with unmap");
            }
            if (numSectors > maxSectors) {
                return new Malformed(what + " of " + numSectors + " sectors (at most " + maxSectors + ")");
            }
            if (!limits.inRange(sector, numSectors)) {
                return new Malformed(String.format("%s of %d sectors at sector %s beyond the capacity",
                        what, numSectors, Long.toUnsignedString(sector)));
            }
            segments.add(new Segment(sector, numSectors, unmap));
        }
        return discard ? new Discard(segments) : new WriteZeroes(segments);
    }
}
