package dev.panvm.virtio.mock;

import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioTransport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.panvm.virtio.mmio.MmioRegister.*;

/**
 * The driver side of the virtio-mmio transport: 32-bit register accesses, the initialization
 * sequence of 3.1.1 and 4.2.3 with {@link MockSplitQueue}s for the rings, kicks and interrupt
 * acknowledgement. What a guest kernel's virtio_mmio driver does, minus the kernel.
 */
public final class MockMmioDriver {
    private final MmioTransport transport;
    private final SimpleGuestMemory memory;
    private final GuestAllocator allocator;
    private final MemorySegment access = Arena.ofAuto().allocate(8);

    public MockMmioDriver(MmioTransport transport, SimpleGuestMemory memory, GuestAllocator allocator) {
        this.transport = transport;
        this.memory = memory;
        this.allocator = allocator;
    }

    public MmioTransport transport() {
        return transport;
    }

    public int read(int offset) {
        MemorySegment data = access.asSlice(0, 4);
        transport.read(offset, data);
        return (int) LittleEndian.u32(data, 0);
    }

    public void write(int offset, int value) {
        MemorySegment data = access.asSlice(0, 4);
        LittleEndian.putU32(data, 0, value);
        transport.write(offset, data);
    }

    /** A read of {@code width} bytes (any width: for tests of the width rules and config space). */
    public long read(long offset, int width) {
        MemorySegment data = access.asSlice(0, width);
        data.fill((byte) 0x5a);
        transport.read(offset, data);
        return LittleEndian.value(data);
    }

    public void write(long offset, int width, long value) {
        MemorySegment data = access.asSlice(0, width);
        for (int i = 0; i < width; i++) {
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        transport.write(offset, data);
    }

    public int status() {
        return read(STATUS);
    }

    public void setStatus(int status) {
        write(STATUS, status);
    }

    /** Adds status bits the way Linux does: read, or, write. */
    public void addStatus(int bits) {
        setStatus(status() | bits);
    }

    public long deviceFeatures() {
        write(DEVICE_FEATURES_SEL, 0);
        long low = read(DEVICE_FEATURES) & 0xffff_ffffL;
        write(DEVICE_FEATURES_SEL, 1);
        long high = read(DEVICE_FEATURES) & 0xffff_ffffL;
        return (high << 32) | low;
    }

    public void writeDriverFeatures(long features) {
        write(DRIVER_FEATURES_SEL, 0);
        write(DRIVER_FEATURES, (int) features);
        write(DRIVER_FEATURES_SEL, 1);
        write(DRIVER_FEATURES, (int) (features >>> 32));
    }

    /** 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true if FEATURES_OK stuck. */
    public boolean negotiate(long driverFeatures) {
        setStatus(0);
        addStatus(DeviceStatus.ACKNOWLEDGE);
        addStatus(DeviceStatus.DRIVER);
        writeDriverFeatures(driverFeatures);
        addStatus(DeviceStatus.FEATURES_OK);
        return (status() & DeviceStatus.FEATURES_OK) != 0;
    }

    /** 4.2.3.2: sets up queue {@code index} with a fresh {@link MockSplitQueue} of {@code size} entries. */
    public MockSplitQueue setupQueue(int index, int size) {
        MockSplitQueue q = new MockSplitQueue(memory, allocator, size);
        setupQueue(index, size, q.descriptorTableAddress(), q.availableRingAddress(), q.usedRingAddress());
        return q;
    }

    public void setupQueue(int index, int size, long desc, long driver, long device) {
        write(QUEUE_SEL, index);
        write(QUEUE_NUM, size);
        write(QUEUE_DESC_LOW, (int) desc);
        write(QUEUE_DESC_HIGH, (int) (desc >>> 32));
        write(QUEUE_DRIVER_LOW, (int) driver);
        write(QUEUE_DRIVER_HIGH, (int) (driver >>> 32));
        write(QUEUE_DEVICE_LOW, (int) device);
        write(QUEUE_DEVICE_HIGH, (int) (device >>> 32));
        write(QUEUE_READY, 1);
    }

    public void driverOk() {
        addStatus(DeviceStatus.DRIVER_OK);
    }

    /**
     * The whole initialization: negotiate the device's features intersected with
     * {@code wanted}, set up every queue with {@code queueSize} entries, DRIVER_OK.
     */
    public List<MockSplitQueue> initialize(long wanted, int queueSize) {
        long features = deviceFeatures() & wanted;
        if (!negotiate(features)) {
            throw new IllegalStateException("FEATURES_OK refused for " + Long.toHexString(features));
        }
        List<MockSplitQueue> queues = new ArrayList<>();
        for (int i = 0; i < transport.queues().size(); i++) {
            queues.add(setupQueue(i, queueSize));
        }
        driverOk();
        if ((status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            throw new IllegalStateException("device needs reset after DRIVER_OK");
        }
        return queues;
    }

    /** An available buffer notification for queue {@code index}. */
    public void kick(int index) {
        write(QUEUE_NOTIFY, index);
    }

    /** Reads and acknowledges InterruptStatus, as an interrupt handler does; returns the bits. */
    public int acknowledgeInterrupt() {
        int bits = read(INTERRUPT_STATUS);
        write(INTERRUPT_ACK, bits);
        return bits;
    }

    public long readConfig(int offset, int width) {
        return read(CONFIG + offset, width);
    }
}
