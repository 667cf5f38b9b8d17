package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.mmio.InterruptSink;
import dev.panvm.virtio.mmio.MmioRegister;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.queue.Descriptor;
import dev.panvm.virtio.queue.VirtqueuePart;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import static dev.panvm.virtio.mmio.MmioRegister.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile virtio-mmio driver whose every move comes from the fuzzer: an interpreter of
 * operations read from a {@link FuzzedDataProvider}, run against one device behind a real
 * {@link MmioTransport} with the synchronous notifier (a QueueNotify write runs the device's
 * queue processing, requeued passes included, on the calling thread, as the vmm's device thread
 * would). Operations: raw register reads and writes (any offset, width, value), a whole
 * initialization (status sequence, features, queues), descriptor chains built and made
 * available (direct or indirect), raw writes of descriptors, ring indices and any guest memory,
 * notifications, the device thread's poll, interrupt acknowledgement, configuration space
 * accesses, resets, and the target's own backend events.
 *
 * <p>Oracles, after every operation: no exception escapes (the transport and the device catch
 * their own bugs and count them, so those counts must stay 0), no device access outside guest
 * RAM ({@link FuzzMemory}), every entry point returns within its step and time budget
 * ({@link Liveness}), and the device status obeys 2.1/3.1.1 (DRIVER_OK only on top of
 * FEATURES_OK, DRIVER and ACKNOWLEDGE; an active device only behind an activated transport). At
 * the end, the identification registers still read right.
 */
final class FuzzDriver {
    /** Queue q's rings: descriptor table at base, available ring at +0x100, used ring at +0x200 (room for 16 entries). */
    static final long RING_BASE = 0x800;
    static final long RING_STRIDE = 0x400;
    static final int QUEUE_MAX = 16;
    /** Buffers and indirect tables are carved from here, round robin. */
    static final long BUFFERS = 0x1000;
    static final int MAX_OPS = 96;

    private static final int[] REGISTERS = {
            MAGIC_VALUE, VERSION, DEVICE_ID, MmioRegister.VENDOR_ID, DEVICE_FEATURES, DEVICE_FEATURES_SEL,
            DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY,
            INTERRUPT_STATUS, INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW,
            QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL, SHM_LEN_LOW, SHM_LEN_HIGH,
            SHM_BASE_LOW, SHM_BASE_HIGH, QUEUE_RESET, CONFIG_GENERATION, CONFIG};
    private static final int[] WIDTHS = {4, 4, 4, 4, 1, 2, 8, 3, 0, 16};

    final FuzzMemory memory;
    final VirtioDeviceBase device;
    final MmioTransport transport;
    final FuzzedDataProvider in;
    private final Consumer<FuzzDriver> backendEvent;
    private final int queues;
    private final int[] queueSize;
    private final int[] nextDescriptor;
    private final long rejectedBefore;
    private long nextBuffer = BUFFERS;
    private long interrupts;
    /** Operations that change the device but need the register window or rings: 0..weights. */
    private final int rawRegisterWeight;

    /**
     * @param rawRegisterWeight how many extra shares of the operation mix go to raw register
     *                          accesses (0: the mix favours well-formed rings and requests)
     * @param backendEvent      the target's backend operation (frames, console input, ...); it
     *                          reads its parameters from {@link #in} and calls the device through
     *                          {@link #entry}
     */
    FuzzDriver(FuzzMemory memory, VirtioDeviceBase device, FuzzedDataProvider in, int rawRegisterWeight,
               Consumer<FuzzDriver> backendEvent) {
        this.memory = memory;
        this.device = device;
        this.in = in;
        this.backendEvent = backendEvent;
        this.rawRegisterWeight = rawRegisterWeight;
        InterruptSink sink = bits -> interrupts++;
        this.transport = new MmioTransport(device, memory, sink);
        this.queues = device.queueCount();
        this.queueSize = new int[queues];
        this.nextDescriptor = new int[queues];
        this.rejectedBefore = memory.rejectedSlices();
    }

    /** Runs operations until the input or the operation budget runs out, checking after each. */
    void run() {
        for (int op = 0; op < MAX_OPS && in.remainingBytes() > 0; op++) {
            step(in.consumeInt(0, 15 + rawRegisterWeight));
            check();
        }
        finish();
    }

    private void step(int op) {
        switch (op) {
            case 0 -> initialize();
            case 1, 2 -> addChain();
            case 3 -> kick(queue());
            case 4 -> writeDescriptor();
            case 5 -> writeRing();
            case 6 -> scribble();
            case 7 -> backendEvent.accept(this);
            case 8 -> poll();
            case 9 -> acknowledge();
            case 10 -> configAccess();
            case 11 -> reset();
            case 12 -> writeRegister(STATUS, 4, transport.status() | pickStatusBits());
            case 13 -> addChain();
            case 14 -> addChain();
            default -> rawRegister();
        }
    }

    // ---- oracles ----

    void check() {
        assertEquals(0, device.internalErrors(), "device caught an internal error (an exception a guest provoked)");
        assertEquals(0, transport.internalErrors(), "transport caught an internal error (an exception a guest provoked)");
        assertEquals(rejectedBefore, memory.rejectedSlices(), "device asked for guest memory outside RAM");
        int s = transport.status();
        if ((s & DeviceStatus.DRIVER_OK) != 0) {
            assertTrue((s & DeviceStatus.FEATURES_OK) != 0, "DRIVER_OK without FEATURES_OK: " + DeviceStatus.describe(s));
        }
        if ((s & DeviceStatus.FEATURES_OK) != 0) {
            assertTrue((s & DeviceStatus.DRIVER) != 0 && (s & DeviceStatus.ACKNOWLEDGE) != 0,
                    "FEATURES_OK without DRIVER and ACKNOWLEDGE: " + DeviceStatus.describe(s));
            long accepted = transport.driverFeatures();
            assertEquals(0, accepted & ~device.features(), "FEATURES_OK with features the device did not offer");
            assertTrue(FeatureBits.has(accepted, FeatureBits.VIRTIO_F_VERSION_1), "FEATURES_OK without VERSION_1");
        }
        if (device.isActive()) {
            assertTrue(transport.isActivated(), "device active behind a transport that did not activate it");
        }
        if (transport.isActivated()) {
            assertTrue((s & DeviceStatus.DRIVER_OK) != 0, "activated without DRIVER_OK: " + DeviceStatus.describe(s));
        }
    }

    private void finish() {
        assertEquals(MAGIC, readRegister(MAGIC_VALUE, 4));
        assertEquals(VERSION_2, readRegister(VERSION, 4));
        assertEquals(device.type().id(), readRegister(DEVICE_ID, 4));
        assertEquals(MmioTransport.VENDOR_ID, readRegister(MmioRegister.VENDOR_ID, 4));
        check();
    }

    // ---- register window ----

    <T> T entry(String what, java.util.function.Supplier<T> call) {
        return Liveness.entry(memory, what, call);
    }

    void entry(String what, Runnable call) {
        Liveness.entry(memory, what, call);
    }

    void writeRegister(long offset, int width, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[width]);
        for (int i = 0; i < width; i++) {
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * Math.min(i, 7))));
        }
        entry("write of " + width + " bytes at " + Long.toHexString(offset), () -> transport.write(offset, data));
    }

    /** A read of {@code width} bytes; returns its first (up to) 4 bytes, little-endian. */
    long readRegister(long offset, int width) {
        byte[] bytes = new byte[width];
        entry("read of " + width + " bytes at " + Long.toHexString(offset), () -> transport.read(offset, MemorySegment.ofArray(bytes)));
        return LittleEndian.u32(MemorySegment.ofArray(java.util.Arrays.copyOf(bytes, 8)), 0);
    }

    private void rawRegister() {
        long offset = switch (in.consumeInt(0, 7)) {
            case 0 -> in.consumeLong();
            case 1 -> in.consumeInt(-8, 0x220);
            default -> in.pickValue(REGISTERS) + (in.consumeInt(0, 15) == 0 ? in.consumeInt(1, 3) : 0);
        };
        int width = in.pickValue(WIDTHS);
        if (in.consumeBoolean()) {
            writeRegister(offset, width, value());
        } else {
            readRegister(offset, width);
        }
    }

    private long value() {
        return switch (in.consumeInt(0, 3)) {
            case 0 -> in.consumeLong();
            case 1 -> in.consumeInt();
            default -> in.consumeInt(0, 0x1ff);
        };
    }

    private int pickStatusBits() {
        return in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 0xff)
                : in.pickValue(new int[] {DeviceStatus.ACKNOWLEDGE, DeviceStatus.DRIVER, DeviceStatus.FEATURES_OK,
                DeviceStatus.DRIVER_OK, DeviceStatus.FAILED, DeviceStatus.DEVICE_NEEDS_RESET});
    }

    /** Status = 0 (2.4): the transport and device forget the driver's setup, at once (nothing else holds the device). */
    private void reset() {
        writeRegister(STATUS, 4, 0);
        assertEquals(0, transport.status(), "status after a reset");
        assertEquals(0, transport.interruptStatus(), "interrupt status after a reset");
        assertTrue(!transport.isActivated() && !device.isActive(), "still active after a reset");
    }

    private void acknowledge() {
        long bits = readRegister(INTERRUPT_STATUS, 4);
        writeRegister(INTERRUPT_ACK, 4, in.consumeBoolean() ? bits : in.consumeInt());
    }

    private void configAccess() {
        long offset = CONFIG + in.consumeInt(0, 0x110) - (in.consumeInt(0, 7) == 0 ? 0x10 : 0);
        int width = in.pickValue(new int[] {1, 2, 4, 8, 4, 3});
        if (in.consumeBoolean()) {
            writeRegister(offset, width, value());
        } else {
            readRegister(offset, width);
        }
    }

    // ---- driver initialization (3.1.1, 4.2.3) ----

    private void initialize() {
        long wanted = in.consumeInt(0, 3) == 0 ? in.consumeLong() : -1L;
        long features = device.features() & wanted;
        if (in.consumeInt(0, 7) == 0) {
            features ^= 1L << in.consumeInt(0, 63); // now and then one the device did not offer, or no VERSION_1
        }
        writeRegister(STATUS, 4, 0);
        writeRegister(STATUS, 4, DeviceStatus.ACKNOWLEDGE);
        writeRegister(STATUS, 4, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        writeRegister(DRIVER_FEATURES_SEL, 4, 0);
        writeRegister(DRIVER_FEATURES, 4, features);
        writeRegister(DRIVER_FEATURES_SEL, 4, 1);
        writeRegister(DRIVER_FEATURES, 4, features >>> 32);
        writeRegister(STATUS, 4, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        for (int q = 0; q < queues; q++) {
            if (in.consumeInt(0, 7) == 0) {
                continue; // a queue the driver leaves unset
            }
            int size = switch (in.consumeInt(0, 7)) {
                case 0 -> in.consumeInt(0, 40);
                case 1 -> in.consumeInt();
                default -> in.pickValue(new int[] {16, 8, 4, 2, 1});
            };
            long base = RING_BASE + q * RING_STRIDE;
            long desc = base;
            long avail = base + 0x100;
            long used = base + 0x200;
            if (in.consumeInt(0, 7) == 0) {
                switch (in.consumeInt(0, 2)) {
                    case 0 -> desc = address();
                    case 1 -> avail = address();
                    default -> used = address();
                }
            }
            memory.driver(base, RING_STRIDE).fill((byte) 0);
            writeRegister(QUEUE_SEL, 4, q);
            writeRegister(QUEUE_NUM, 4, size);
            writeRegister(QUEUE_DESC_LOW, 4, desc);
            writeRegister(QUEUE_DESC_HIGH, 4, desc >>> 32);
            writeRegister(QUEUE_DRIVER_LOW, 4, avail);
            writeRegister(QUEUE_DRIVER_HIGH, 4, avail >>> 32);
            writeRegister(QUEUE_DEVICE_LOW, 4, used);
            writeRegister(QUEUE_DEVICE_HIGH, 4, used >>> 32);
            writeRegister(QUEUE_READY, 4, 1);
            queueSize[q] = size;
            nextDescriptor[q] = 0;
        }
        if (in.consumeInt(0, 15) != 0) {
            writeRegister(STATUS, 4, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK
                    | DeviceStatus.DRIVER_OK);
        }
    }

    // ---- rings, from the driver's side (2.7) ----

    int queue() {
        return queues == 1 ? 0 : in.consumeInt(0, queues - 1);
    }

    /** The entries the driver lays out in queue q's table: its Queue Size when that is usable, else the room there is. */
    private int layoutSize(int q) {
        int s = queueSize[q];
        return s >= 1 && s <= QUEUE_MAX && Integer.bitCount(s) == 1 ? s : QUEUE_MAX;
    }

    private static long descTable(int q) {
        return RING_BASE + q * RING_STRIDE;
    }

    private static long availRing(int q) {
        return descTable(q) + 0x100;
    }

    long address() {
        return address(in);
    }

    long length() {
        return length(in);
    }

    /** A guest-physical address: mostly in the buffer area, sometimes at region edges, in the hole, or anywhere. */
    static long address(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 15)) {
            case 0 -> in.consumeLong();
            case 1 -> FuzzMemory.LOW + FuzzMemory.LOW_SIZE - in.consumeInt(-16, 64);
            case 2 -> FuzzMemory.HIGH + FuzzMemory.HIGH_SIZE - in.consumeInt(-16, 64);
            case 3 -> FuzzMemory.HIGH + in.consumeInt(-64, 0x1000);
            case 4 -> in.consumeInt(0, (int) FuzzMemory.LOW_SIZE - 1);
            case 5 -> RING_BASE + in.consumeInt(0, 2 * (int) RING_STRIDE);
            default -> BUFFERS + in.consumeInt(0, (int) (FuzzMemory.LOW_SIZE - BUFFERS) - 1);
        };
    }

    /** A buffer length: mostly small or sector-sized, sometimes huge. */
    static long length(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 15)) {
            case 0 -> in.consumeLong(0, 0xffff_ffffL);
            case 1 -> 0xffff_ffffL - in.consumeInt(0, 16);
            case 2, 3 -> 512L * in.consumeInt(0, 9);
            case 4 -> in.pickValue(new long[] {0, 1, 12, 13, 16, 17, 20, 21, 1514, 1526, 1527});
            default -> in.consumeInt(0, 2100);
        };
    }

    /** Room for {@code length} bytes in the buffer area (wrapping round), or -1 when it cannot fit. */
    long allocate(long length) {
        long limit = FuzzMemory.LOW_SIZE - BUFFERS;
        if (length > limit) {
            return -1;
        }
        long at = (nextBuffer + 15) & ~15L;
        if (at + length > FuzzMemory.LOW_SIZE) {
            at = BUFFERS;
        }
        nextBuffer = at + length;
        return at;
    }

    /** One element of a chain being built: where, how long, which way. */
    record Element(long address, long length, boolean writable) {
    }

    /** A buffer allocated in RAM (or, now and then, anywhere) and, when device-readable, filled from the input. */
    Element buffer(long length, boolean writable, byte[] contents) {
        long at = in.consumeInt(0, 31) == 0 ? address() : allocate(length);
        if (at < 0) {
            at = address();
        }
        if (!writable && contents.length > 0 && memory.inRam(at, Math.min(length, contents.length))) {
            memory.driverWrite(at, java.util.Arrays.copyOf(contents, (int) Math.min(length, contents.length)));
        }
        return new Element(at, length, writable);
    }

    /** A chain of 1 to 5 elements (now and then up to 18, beyond the queue size) with fuzzed lengths, directions and contents. */
    private void addChain() {
        int n = in.consumeInt(0, 15) == 0 ? in.consumeInt(1, 18) : in.consumeInt(1, 5);
        Element[] elements = new Element[n];
        for (int i = 0; i < n; i++) {
            long length = length();
            boolean writable = in.consumeBoolean();
            byte[] contents = writable ? new byte[0] : in.consumeBytes(in.consumeInt(0, 64));
            elements[i] = buffer(length, writable, contents);
        }
        publishChain(queue(), elements);
    }

    /**
     * Writes {@code elements} as a chain into queue q's table (or into an indirect table, now and
     * then) and makes it available: the ring entry, then the idx.
     */
    void publishChain(int q, Element... elements) {
        int size = layoutSize(q);
        MemorySegment table = memory.driver(descTable(q), 16L * QUEUE_MAX);
        int head = nextDescriptor[q] % size;
        if (in.consumeInt(0, 7) == 0) {
            long bytes = 16L * elements.length;
            long at = allocate(bytes);
            if (at >= 0) {
                MemorySegment t = memory.driver(at, bytes);
                for (int i = 0; i < elements.length; i++) {
                    descriptor(elements[i], i, elements.length, i + 1).write(t, i);
                }
                boolean next = in.consumeInt(0, 15) == 0; // INDIRECT with NEXT is a driver error
                new Descriptor(at, bytes, Descriptor.VIRTQ_DESC_F_INDIRECT | (next ? Descriptor.VIRTQ_DESC_F_NEXT : 0),
                        (head + 1) % size).write(table, head);
                nextDescriptor[q] = head + 1;
                publish(q, head);
                return;
            }
        }
        int index = head;
        for (int i = 0; i < elements.length; i++) {
            int next = (index + 1) % size;
            descriptor(elements[i], i, elements.length, next).write(table, index);
            index = next;
        }
        nextDescriptor[q] = index;
        publish(q, head);
    }

    private Descriptor descriptor(Element e, int i, int count, int next) {
        boolean last = i == count - 1;
        int flags = (e.writable() ? Descriptor.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : Descriptor.VIRTQ_DESC_F_NEXT);
        if (in.consumeInt(0, 31) == 0) {
            flags ^= 1 << in.consumeInt(0, 15);
            next = in.consumeInt(0, 0xffff);
        }
        return new Descriptor(e.address(), e.length(), flags, last ? 0 : next);
    }

    /** Puts {@code head} into the next available ring entry and advances the idx, as a driver does. */
    void publish(int q, int head) {
        int size = layoutSize(q);
        MemorySegment avail = memory.driver(availRing(q), 6 + 2L * QUEUE_MAX);
        int idx = LittleEndian.u16(avail, 2);
        LittleEndian.putU16(avail, 4 + 2L * (idx % size), head);
        LittleEndian.putU16(avail, 2, idx + 1);
        if (in.consumeInt(0, 3) == 0) {
            kick(q);
        }
    }

    void kick(int q) {
        int value = in.consumeInt(0, 31) == 0 ? in.consumeInt() : q;
        writeRegister(QUEUE_NOTIFY, 4, value);
    }

    private void poll() {
        int q = in.consumeInt(0, 15) == 0 ? in.consumeInt(-1, queues) : queue();
        if (entry("hasAvailable(" + q + ")", () -> device.hasAvailable(q)) || in.consumeBoolean()) {
            entry("processQueue(" + q + ")", () -> device.processQueue(q));
        }
    }

    private void writeDescriptor() {
        int q = queue();
        int index = in.consumeInt(0, QUEUE_MAX - 1);
        Descriptor d = new Descriptor(address(), length(),
                in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, 7),
                in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, QUEUE_MAX + 1));
        d.write(memory.driver(descTable(q), 16L * QUEUE_MAX), index);
    }

    /** Raw writes of the available ring's fields: idx (anything), entries, flags, used_event. */
    private void writeRing() {
        int q = queue();
        MemorySegment avail = memory.driver(availRing(q), 6 + 2L * QUEUE_MAX);
        switch (in.consumeInt(0, 4)) {
            case 0 -> LittleEndian.putU16(avail, 2, in.consumeInt(0, 0xffff));
            case 1 -> LittleEndian.putU16(avail, 2, LittleEndian.u16(avail, 2) + in.consumeInt(-2, 20));
            case 2 -> LittleEndian.putU16(avail, 4 + 2L * in.consumeInt(0, QUEUE_MAX - 1),
                    in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, QUEUE_MAX + 1));
            case 3 -> LittleEndian.putU16(avail, 0, in.consumeInt(0, 3));
            default -> LittleEndian.putU16(avail, 4 + 2L * layoutSize(q), in.consumeInt(0, 0xffff));
        }
    }

    /** Any bytes anywhere in RAM: rings, tables, buffers the device is using. */
    private void scribble() {
        long at = in.consumeBoolean() ? RING_BASE + in.consumeInt(0, 2 * (int) RING_STRIDE) : address();
        memory.driverWrite(at, in.consumeBytes(in.consumeInt(1, 32)));
    }

    long interrupts() {
        return interrupts;
    }
}
