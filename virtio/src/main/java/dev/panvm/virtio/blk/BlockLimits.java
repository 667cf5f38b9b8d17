package dev.panvm.virtio.blk;

/**
 * What a request may ask of the device: the capacity in 512-byte sectors, whether the device is
 * read-only, and the DISCARD and WRITE_ZEROES limits it advertises in its configuration space
 * (zero segments when the feature is not offered).
 */
public record BlockLimits(long capacity, boolean readOnly,
                          long maxDiscardSectors, int maxDiscardSegments,
                          long maxWriteZeroesSectors, int maxWriteZeroesSegments) {

    public boolean discardOffered() {
        return maxDiscardSegments > 0;
    }

    public boolean writeZeroesOffered() {
        return maxWriteZeroesSegments > 0;
    }

    /** Whether {@code count} sectors from {@code sector} lie inside the capacity (overflow-safe, unsigned). */
    public boolean inRange(long sector, long count) {
        return Long.compareUnsigned(sector, capacity) <= 0 && Long.compareUnsigned(count, capacity - sector) <= 0;
    }
}
