package dev.panvm.virtio.blk;

import dev.panvm.virtio.queue.ScatterGatherList;

import java.util.List;

/**
 * A virtio-blk request (virtio 1.2, 5.2.6), parsed and checked: a header
 * {@code {le32 type; le32 reserved; le64 sector}}, data, and a status byte the device writes
 * last. {@link Unsupported} and {@link Malformed} are the requests the device answers with
 * VIRTIO_BLK_S_UNSUPP and VIRTIO_BLK_S_IOERR without doing anything.
 */
public sealed interface BlockRequest {
    int VIRTIO_BLK_T_IN = 0;
    int VIRTIO_BLK_T_OUT = 1;
    int VIRTIO_BLK_T_FLUSH = 4;
    int VIRTIO_BLK_T_GET_ID = 8;
    int VIRTIO_BLK_T_GET_LIFETIME = 10;
    int VIRTIO_BLK_T_DISCARD = 11;
    int VIRTIO_BLK_T_WRITE_ZEROES = 13;
    int VIRTIO_BLK_T_SECURE_ERASE = 14;

    /** The size of the request header. */
    int HEADER_SIZE = 16;
    /** The protocol's sector size, whatever the medium's block size. */
    int SECTOR_SIZE = 512;
    /** The device ID string's size. */
    int ID_BYTES = 20;

    /** VIRTIO_BLK_T_IN: read sectors from {@code sector} into {@code data} (device-writable). */
    record In(long sector, ScatterGatherList data) implements BlockRequest {
    }

    /** VIRTIO_BLK_T_OUT: write {@code data} (device-readable) to sectors from {@code sector}. */
    record Out(long sector, ScatterGatherList data) implements BlockRequest {
    }

    /** VIRTIO_BLK_T_FLUSH: make every completed write durable before completing. */
    record Flush() implements BlockRequest {
    }

    /** VIRTIO_BLK_T_GET_ID: the NUL-padded device ID string into {@code data}. */
    record GetId(ScatterGatherList data) implements BlockRequest {
    }

    /** VIRTIO_BLK_T_DISCARD: let the medium forget the ranges. */
    record Discard(List<Segment> segments) implements BlockRequest {
    }

    /** VIRTIO_BLK_T_WRITE_ZEROES: make the ranges read back as zeroes. */
    record WriteZeroes(List<Segment> segments) implements BlockRequest {
    }

    /** A request type the device does not implement or did not offer: VIRTIO_BLK_S_UNSUPP. */
    record Unsupported(long type, String reason) implements BlockRequest {
    }

    /** A request the driver got wrong: VIRTIO_BLK_S_IOERR. */
    record Malformed(String reason) implements BlockRequest {
    }

    /**
     * One {@code struct virtio_blk_discard_write_zeroes}: {@code le64 sector; le32 num_sectors;
     * le32 flags} with flag bit 0 {@code unmap}.
     */
    record Segment(long sector, long numSectors, boolean unmap) {
        public static final int SIZE = 16;
        public static final int FLAG_UNMAP = 1;
    }
}
