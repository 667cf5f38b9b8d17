package dev.panvm.virtio.mmio;

/**
 * The virtio-mmio register layout, version 2 (virtio 1.2, 4.2.2): offsets from the device's
 * base address. All registers are 32 bits wide and little-endian; the device configuration
 * space starts at {@link #CONFIG}.
 */
public final class MmioRegister {
    /** R: 0x74726976, "virt". */
    public static final int MAGIC_VALUE = 0x000;
    /** R: 2 (1 was the legacy interface). */
    public static final int VERSION = 0x004;
    /** R: the virtio device ID. */
    public static final int DEVICE_ID = 0x008;
    /** R: the virtio subsystem vendor ID. */
    public static final int VENDOR_ID = 0x00c;
    /** R: 32 device feature bits, selected by DeviceFeaturesSel. */
    public static final int DEVICE_FEATURES = 0x010;
    /** W: which 32 feature bits DeviceFeatures shows. */
    public static final int DEVICE_FEATURES_SEL = 0x014;
    /** W: 32 driver (accepted) feature bits, selected by DriverFeaturesSel. */
    public static final int DRIVER_FEATURES = 0x020;
    /** W: which 32 feature bits DriverFeatures sets. */
    public static final int DRIVER_FEATURES_SEL = 0x024;
    /** W: the queue the Queue* registers apply to. */
    public static final int QUEUE_SEL = 0x030;
    /** R: the largest size of the selected queue; 0 if the queue does not exist. */
    public static final int QUEUE_NUM_MAX = 0x034;
    /** W: the size the driver chose for the selected queue. */
    public static final int QUEUE_NUM = 0x038;
    /** RW: the selected queue is ready for use. */
    public static final int QUEUE_READY = 0x044;
    /** W: available buffer notification; the value is the queue index. */
    public static final int QUEUE_NOTIFY = 0x050;
    /** R: why the interrupt is asserted (bit 0 used buffer, bit 1 configuration change). */
    public static final int INTERRUPT_STATUS = 0x060;
    /** W: InterruptStatus bits the driver handled. */
    public static final int INTERRUPT_ACK = 0x064;
    /** RW: device status (2.1); writing 0 resets the device. */
    public static final int STATUS = 0x070;
    /** W: the selected queue's Descriptor Area, low and high 32 bits. */
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    /** W: the selected queue's Driver Area (available ring). */
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    /** W: the selected queue's Device Area (used ring). */
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    /** W: shared memory region selection (2.10); panvm devices have none. */
    public static final int SHM_SEL = 0x0ac;
    /** R: length of the selected shared memory region; -1 when there is none. */
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    /** R: base of the selected shared memory region; all ones when there is none. */
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    /** RW: per-queue reset, only with VIRTIO_F_RING_RESET, which panvm does not offer. */
    public static final int QUEUE_RESET = 0x0c0;
    /** R: changes whenever the configuration space may have changed. */
    public static final int CONFIG_GENERATION = 0x0fc;
    /** RW: the device configuration space, byte-addressed. */
    public static final int CONFIG = 0x100;

    public static final int MAGIC = 0x74726976;
    public static final int VERSION_2 = 2;

    /** InterruptStatus bit: the device used a buffer in at least one queue. */
    public static final int INTERRUPT_USED_BUFFER = 1;
    /** InterruptStatus bit: the configuration changed. */
    public static final int INTERRUPT_CONFIG_CHANGE = 2;

    private MmioRegister() {
    }

    /** The register's name as the spec writes it, for log lines. */
    public static String name(long offset) {
        return switch ((int) offset) {
            case MAGIC_VALUE -> "MagicValue";
            case VERSION -> "Version";
            case DEVICE_ID -> "DeviceID";
            case VENDOR_ID -> "VendorID";
            case DEVICE_FEATURES -> "DeviceFeatures";
            case DEVICE_FEATURES_SEL -> "DeviceFeaturesSel";
            case DRIVER_FEATURES -> "DriverFeatures";
            case DRIVER_FEATURES_SEL -> "DriverFeaturesSel";
            case QUEUE_SEL -> "QueueSel";
            case QUEUE_NUM_MAX -> "QueueNumMax";
            case QUEUE_NUM -> "QueueNum";
            case QUEUE_READY -> "QueueReady";
            case QUEUE_NOTIFY -> "QueueNotify";
            case INTERRUPT_STATUS -> "InterruptStatus";
            case INTERRUPT_ACK -> "InterruptACK";
            case STATUS -> "Status";
            case QUEUE_DESC_LOW -> "QueueDescLow";
            case QUEUE_DESC_HIGH -> "QueueDescHigh";
            case QUEUE_DRIVER_LOW -> "QueueDriverLow";
            case QUEUE_DRIVER_HIGH -> "QueueDriverHigh";
            case QUEUE_DEVICE_LOW -> "QueueDeviceLow";
            case QUEUE_DEVICE_HIGH -> "QueueDeviceHigh";
            case SHM_SEL -> "SHMSel";
            case SHM_LEN_LOW -> "SHMLenLow";
            case SHM_LEN_HIGH -> "SHMLenHigh";
            case SHM_BASE_LOW -> "SHMBaseLow";
            case SHM_BASE_HIGH -> "SHMBaseHigh";
            case QUEUE_RESET -> "QueueReset";
            case CONFIG_GENERATION -> "ConfigGeneration";
            default -> String.format("%#x", offset);
        };
    }
}
