package dev.panvm.virtio;

/**
 * The device-independent feature bits (virtio 1.2, section 6 "Reserved Feature Bits") that panvm
 * knows, and helpers for 64-bit feature words.
 */
public final class FeatureBits {
    /** 2.7.5.3: the driver may use indirect descriptor tables. */
    public static final int VIRTIO_F_INDIRECT_DESC = 28;
    /** 2.7.7, 2.7.10: used_event / avail_event notification suppression. */
    public static final int VIRTIO_F_EVENT_IDX = 29;
    /** Compliance with this (non-legacy) specification; mandatory for virtio-mmio version 2. */
    public static final int VIRTIO_F_VERSION_1 = 32;

    /** What every panvm device offers on top of its own feature bits. */
    public static final long TRANSPORT_FEATURES =
            bit(VIRTIO_F_INDIRECT_DESC) | bit(VIRTIO_F_EVENT_IDX) | bit(VIRTIO_F_VERSION_1);

    private FeatureBits() {
    }

    public static long bit(int feature) {
        return 1L << feature;
    }

    public static boolean has(long features, int feature) {
        return (features & bit(feature)) != 0;
    }
}
