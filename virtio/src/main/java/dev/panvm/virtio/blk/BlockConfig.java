package dev.panvm.virtio.blk;

import dev.panvm.virtio.ConfigSpace;

/**
 * {@code struct virtio_blk_config} (virtio 1.2, 5.2.4), the fields up to
 * {@code write_zeroes_may_unmap}: the driver reads each only if the feature that governs it was
 * negotiated, so the device may fill them all.
 */
final class BlockConfig {
    static final int CAPACITY = 0;               // le64, in 512-byte sectors
    static final int SIZE_MAX = 8;               // le32, VIRTIO_BLK_F_SIZE_MAX (not offered)
    static final int SEG_MAX = 12;               // le32, VIRTIO_BLK_F_SEG_MAX
    static final int BLK_SIZE = 20;              // le32, VIRTIO_BLK_F_BLK_SIZE
    static final int WRITEBACK = 32;             // u8, VIRTIO_BLK_F_CONFIG_WCE (not offered)
    static final int NUM_QUEUES = 34;            // le16, VIRTIO_BLK_F_MQ (not offered)
    static final int MAX_DISCARD_SECTORS = 36;   // le32
    static final int MAX_DISCARD_SEG = 40;       // le32
    static final int DISCARD_SECTOR_ALIGNMENT = 44;
    static final int MAX_WRITE_ZEROES_SECTORS = 48;
    static final int MAX_WRITE_ZEROES_SEG = 52;
    static final int WRITE_ZEROES_MAY_UNMAP = 56; // u8
    static final int SIZE = 60;

    private BlockConfig() {
    }

    static ConfigSpace build(BlockLimits limits, int segMax) {
        ConfigSpace c = new ConfigSpace(SIZE);
        c.putU64(CAPACITY, limits.capacity());
        c.putU32(SEG_MAX, segMax);
        c.putU32(BLK_SIZE, BlockRequest.SECTOR_SIZE);
        c.putU16(NUM_QUEUES, 1);
        c.putU32(MAX_DISCARD_SECTORS, limits.maxDiscardSectors());
        c.putU32(MAX_DISCARD_SEG, limits.maxDiscardSegments());
        c.putU32(DISCARD_SECTOR_ALIGNMENT, 1);
        c.putU32(MAX_WRITE_ZEROES_SECTORS, limits.maxWriteZeroesSectors());
        c.putU32(MAX_WRITE_ZEROES_SEG, limits.maxWriteZeroesSegments());
        c.putU8(WRITE_ZEROES_MAY_UNMAP, 0);
        return c;
    }
}
