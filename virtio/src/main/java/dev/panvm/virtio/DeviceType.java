package dev.panvm.virtio;

/** The virtio device IDs panvm implements (virtio 1.2, section 5 "Device Types"). */
public enum DeviceType {
    NETWORK_CARD(1, "virtio-net"),
    BLOCK_DEVICE(2, "virtio-blk"),
    CONSOLE(3, "virtio-console"),
    ENTROPY_SOURCE(4, "virtio-rng");

    private final int id;
    private final String shortName;

    DeviceType(int id, String shortName) {
        this.id = id;
        this.shortName = shortName;
    }

    /** The value of the transport's DeviceID register. */
    public int id() {
        return id;
    }

    /** The name Linux and QEMU use, for log lines. */
    public String shortName() {
        return shortName;
    }
}
