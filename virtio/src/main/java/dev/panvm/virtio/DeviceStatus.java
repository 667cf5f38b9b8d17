package dev.panvm.virtio;

/** The bits of the device status field (virtio 1.2, 2.1). */
public final class DeviceStatus {
    /** The guest found the device and recognised it as a virtio device. */
    public static final int ACKNOWLEDGE = 1;
    /** The guest knows how to drive the device. */
    public static final int DRIVER = 2;
    /** The driver is set up and ready to drive the device. */
    public static final int DRIVER_OK = 4;
    /** The driver acknowledged the features it understands; feature negotiation is complete. */
    public static final int FEATURES_OK = 8;
    /** Set by the device: it hit an error from which only a reset recovers (2.1.1). */
    public static final int DEVICE_NEEDS_RESET = 64;
    /** Set by the driver: something went wrong and it gave up on the device. */
    public static final int FAILED = 128;

    public static final int ALL = ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | DEVICE_NEEDS_RESET | FAILED;

    private DeviceStatus() {
    }

    public static String describe(int status) {
        if (status == 0) {
            return "0 (reset)";
        }
        StringBuilder sb = new StringBuilder();
        append(sb, status, ACKNOWLEDGE, "ACKNOWLEDGE");
        append(sb, status, DRIVER, "DRIVER");
        append(sb, status, FEATURES_OK, "FEATURES_OK");
        append(sb, status, DRIVER_OK, "DRIVER_OK");
        append(sb, status, DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET");
        append(sb, status, FAILED, "FAILED");
        int unknown = status & ~ALL;
        if (unknown != 0) {
            append(sb, unknown, unknown, String.format("%#x", unknown));
        }
        return sb.toString();
    }

    private static void append(StringBuilder sb, int status, int bit, String name) {
        if ((status & bit) != 0) {
            if (!sb.isEmpty()) {
                sb.append('|');
            }
            sb.append(name);
        }
    }
}
