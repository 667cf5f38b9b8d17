package dev.panvm.virtio.mmio;

import dev.panvm.virtio.ActivationException;
import dev.panvm.virtio.DeviceSignals;
import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.GuestErrorLog;
import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static dev.panvm.virtio.DeviceStatus.ACKNOWLEDGE;
import static dev.panvm.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static dev.panvm.virtio.DeviceStatus.DRIVER;
import static dev.panvm.virtio.DeviceStatus.DRIVER_OK;
import static dev.panvm.virtio.DeviceStatus.FAILED;
import static dev.panvm.virtio.DeviceStatus.FEATURES_OK;
import static dev.panvm.virtio.mmio.MmioRegister.*;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2, 4.2): the register window through which a
 * driver discovers a {@link VirtioDevice}, negotiates features, sets up its virtqueues and
 * drives the device status state machine (2.1, 3.1.1):
 *
 * <pre>
 *   0 --ACKNOWLEDGE--> --DRIVER--> (DriverFeatures) --FEATURES_OK--> (queues) --DRIVER_OK--> running
 *   any state --Status=0--> reset; the device sets DEVICE_NEEDS_RESET on errors, the driver FAILED
 * </pre>
 *
 * <p>FEATURES_OK is refused (the bit stays clear, 3.1.1 step 6) unless the driver accepted
 * VIRTIO_F_VERSION_1, accepted nothing the device did not offer, and the device agrees. The
 * driver may only add status bits; a write that clears one or skips a step is ignored.
 *
 * <p>The driver must use 32-bit aligned accesses for the registers (4.2.2.2); anything else is
 * ignored (reads return 0) and logged, rate-limited. Nothing a guest writes makes
 * {@link #read}/{@link #write} throw.
 *
 * <p>Threads: vCPU threads call {@link #read}/{@link #write} (serialized here); device threads
 * raise interrupts and DEVICE_NEEDS_RESET through {@link DeviceSignals}, which touch only atomic
 * fields and never wait for the register lock.
 */
public final class MmioTransport implements MmioDevice {
    private static final Logger LOG = LoggerFactory.getLogger(MmioTransport.class);

    /** The size of the register window (as QEMU's virtio-mmio devices): registers plus 256 bytes of configuration. */
    public static final long WINDOW_SIZE = 0x200;
    /** "PNVM" in little-endian ASCII. */
    public static final int VENDOR_ID = 0x4d564e50;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final InterruptSink interrupt;
    private final QueueNotifier notifier;
    /**
     * The queues of the current driver setup. A reset replaces them (and {@link #signals}) rather
     * than clearing them: a device thread the reset gave up waiting for (a backend that hangs)
     * may still hold the old ones, and must not see them change under it.
     */
    private volatile List<Virtqueue> queues;
    private final long deviceFeatures;
    private final GuestErrorLog guestErrors;
    private volatile Signals signals = new Signals();

    // Registers written by the driver, guarded by this.
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private int queueSel;
    private boolean activated;

    // Also changed by device threads.
    private final AtomicInteger status = new AtomicInteger();
    private final AtomicInteger interruptStatus = new AtomicInteger();
    private final AtomicInteger configGeneration = new AtomicInteger();
    private final AtomicInteger internalErrors = new AtomicInteger();

    /**
     * @param notifier what a QueueNotify write does; {@link QueueNotifier#direct} processes the
     *                 queue on the writing thread
     */
    public MmioTransport(VirtioDevice device, GuestMemory memory, InterruptSink interrupt, QueueNotifier notifier) {
        this.device = device;
        this.memory = memory;
        this.interrupt = interrupt;
        this.notifier = notifier;
        this.deviceFeatures = device.features();
        this.queues = freshQueues(device);
        this.guestErrors = new GuestErrorLog(LOG, device.type().shortName() + "-mmio");
    }

    private static List<Virtqueue> freshQueues(VirtioDevice device) {
        List<Virtqueue> qs = new ArrayList<>();
        for (int i = 0; i < device.queueCount(); i++) {
            qs.add(new Virtqueue(device.queueMaxSize(i)));
        }
        return List.copyOf(qs);
    }

    /** A transport whose queue notifications run the device on the notifying thread. */
    public MmioTransport(VirtioDevice device, GuestMemory memory, InterruptSink interrupt) {
        this(device, memory, interrupt, QueueNotifier.direct(device));
    }

    /**
     * The kernel command-line entry announcing a device at {@code base} with interrupt
     * {@code irq} to Linux's virtio_mmio driver ({@code virtio_mmio.device=SIZE@ADDR:IRQ}), as
     * QEMU microvm and Firecracker do.
     */
    public static String commandLineEntry(long base, int irq) {
        return String.format("virtio_mmio.device=%d@%#x:%d", WINDOW_SIZE, base, irq);
    }

    // ---- MMIO entry points ----

    @Override
    public void read(long offset, MemorySegment data) {
        try {
            data.fill((byte) 0);
            synchronized (this) {
                if (offset >= CONFIG && offset < WINDOW_SIZE) {
                    device.readConfig(offset - CONFIG, data);
                } else if (isRegisterAccess(offset, data, "read")) {
                    LittleEndian.putU32(data, 0, readRegister((int) offset));
                }
            }
        } catch (RuntimeException e) {
            internalErrors.incrementAndGet();
            LOG.error("{}: internal error on a read at {}", guestErrors.device(), offset, e);
        }
    }

    @Override
    public void write(long offset, MemorySegment data) {
        try {
            int notify;
            synchronized (this) {
                if (offset >= CONFIG && offset < WINDOW_SIZE) {
                    if (isConfigWidth(data)) {
                        device.writeConfig(offset - CONFIG, data);
                    }
                    return;
                }
                if (!isRegisterAccess(offset, data, "write")) {
                    return;
                }
                notify = writeRegister((int) offset, (int) LittleEndian.u32(data, 0));
            }
            // Outside the lock: a direct notifier runs the whole queue.
            if (notify >= 0) {
                notifier.notifyQueue(notify);
            }
        } catch (RuntimeException e) {
            internalErrors.incrementAndGet();
            LOG.error("{}: internal error on a write at {}", guestErrors.device(), offset, e);
        }
    }

    private boolean isRegisterAccess(long offset, MemorySegment data, String what) {
        if (offset >= 0 && offset < CONFIG && data.byteSize() == 4 && (offset & 3) == 0) {
            return true;
        }
        guestErrors.report("access-width", String.format(
                "ignored %d-byte %s at offset %#x: registers take 32-bit aligned accesses below %#x",
                data.byteSize(), what, offset, CONFIG));
        return false;
    }

    private boolean isConfigWidth(MemorySegment data) {
        long n = data.byteSize();
        return n == 1 || n == 2 || n == 4 || n == 8;
    }

    // ---- registers ----

    private int readRegister(int offset) {
        Virtqueue q = selectedQueue();
        return switch (offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION -> VERSION_2;
            case DEVICE_ID -> device.type().id();
            case MmioRegister.VENDOR_ID -> VENDOR_ID;
            case DEVICE_FEATURES -> switch (deviceFeaturesSel) {
                case 0 -> (int) deviceFeatures;
                case 1 -> (int) (deviceFeatures >>> 32);
                default -> 0;
            };
            case QUEUE_NUM_MAX -> q == null ? 0 : q.maxSize();
            case QUEUE_READY -> q != null && q.isReady() ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus.get();
            case STATUS -> status.get();
            case CONFIG_GENERATION -> configGeneration.get();
            // No shared memory regions (2.10): length -1 and base all ones.
            case SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH -> -1;
            case QUEUE_RESET -> 0;
            default -> {
                guestErrors.report("read-write-only", "read of " + name(offset));
                yield 0;
            }
        };
    }

    /** Returns the queue to notify, or -1. */
    private int writeRegister(int offset, int value) {
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = value;
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = value;
            case DRIVER_FEATURES -> writeDriverFeatures(value);
            case QUEUE_SEL -> queueSel = value;
            case QUEUE_NUM -> configureQueue(offset, q -> q.setSize(value));
            case QUEUE_READY -> writeQueueReady(value);
            case QUEUE_DESC_LOW -> configureQueue(offset, q -> q.setDescriptorTableAddress(low(q.descriptorTableAddress(), value)));
            case QUEUE_DESC_HIGH -> configureQueue(offset, q -> q.setDescriptorTableAddress(high(q.descriptorTableAddress(), value)));
            case QUEUE_DRIVER_LOW -> configureQueue(offset, q -> q.setAvailableRingAddress(low(q.availableRingAddress(), value)));
            case QUEUE_DRIVER_HIGH -> configureQueue(offset, q -> q.setAvailableRingAddress(high(q.availableRingAddress(), value)));
            case QUEUE_DEVICE_LOW -> configureQueue(offset, q -> q.setUsedRingAddress(low(q.usedRingAddress(), value)));
            case QUEUE_DEVICE_HIGH -> configureQueue(offset, q -> q.setUsedRingAddress(high(q.usedRingAddress(), value)));
            case QUEUE_NOTIFY -> {
                return queueToNotify(value);
            }
            case INTERRUPT_ACK -> interruptStatus.getAndUpdate(s -> s & ~value);
            case STATUS -> writeStatus(value);
            case SHM_SEL, QUEUE_RESET -> {
                // No shared memory regions, no VIRTIO_F_RING_RESET: nothing to select or reset.
            }
            default -> guestErrors.report("write-read-only", "write of " + name(offset));
        }
        return -1;
    }

    private static long low(long address, int value) {
        return (address & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL);
    }

    private static long high(long address, int value) {
        return (address & 0xffff_ffffL) | ((long) value << 32);
    }

    private Virtqueue selectedQueue() {
        return queueSel >= 0 && queueSel < queues.size() ? queues.get(queueSel) : null;
    }

    /**
     * Queue configuration is the driver's before DRIVER_OK and only while the queue is not
     * ready (4.2.2.2); later writes would pull the rings from under a running device.
     */
    private void configureQueue(int offset, Consumer<Virtqueue> change) {
        Virtqueue q = selectedQueue();
        if (q == null) {
            guestErrors.report("no-such-queue", name(offset) + " for queue " + queueSel);
        } else if (activated || (status.get() & DRIVER_OK) != 0) {
            guestErrors.report("queue-config-late", name(offset) + " after DRIVER_OK");
        } else if (q.isReady()) {
            guestErrors.report("queue-config-ready", name(offset) + " while queue " + queueSel + " is ready");
        } else {
            change.accept(q);
        }
    }

    private void writeQueueReady(int value) {
        Virtqueue q = selectedQueue();
        if (q == null) {
            guestErrors.report("no-such-queue", "QueueReady for queue " + queueSel);
        } else if (value != 0 && value != 1) {
            guestErrors.report("queue-ready-value", "QueueReady = " + value);
        } else if (activated || (status.get() & DRIVER_OK) != 0) {
            guestErrors.report("queue-config-late", "QueueReady after DRIVER_OK");
        } else {
            q.setReady(value == 1);
        }
    }

    private int queueToNotify(int value) {
        if (!activated) {
            // 3.1.1: the device does not consume buffers before DRIVER_OK.
            return -1;
        }
        if (value < 0 || value >= queues.size()) {
            guestErrors.report("no-such-queue", "QueueNotify for queue " + value);
            return -1;
        }
        return value;
    }

    private void writeDriverFeatures(int value) {
        int s = status.get();
        if ((s & DRIVER) == 0 || (s & FEATURES_OK) != 0) {
            guestErrors.report("features-order", "DriverFeatures written in status " + DeviceStatus.describe(s));
            return;
        }
        switch (driverFeaturesSel) {
            case 0 -> driverFeatures = low(driverFeatures, value);
            case 1 -> driverFeatures = high(driverFeatures, value);
            default -> {
                if (value != 0) {
                    guestErrors.report("features-unknown", "DriverFeatures word " + driverFeaturesSel + " = " + value);
                }
            }
        }
    }

    // ---- device status (2.1, 3.1.1) ----

    private void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        int current = status.get() & ~DEVICE_NEEDS_RESET;
        // DEVICE_NEEDS_RESET is the device's bit: a driver writing back what it read may carry it.
        int requested = value & ~DEVICE_NEEDS_RESET;
        int added = requested & ~current;
        String refused = null;
        if ((requested & ~DeviceStatus.ALL) != 0) {
            refused = "unknown bits";
        } else if ((current & ~requested) != 0) {
            refused = "clears bits";
        } else if ((added & DRIVER) != 0 && (requested & ACKNOWLEDGE) == 0) {
            refused = "DRIVER without ACKNOWLEDGE";
        } else if ((added & FEATURES_OK) != 0 && (requested & DRIVER) == 0) {
            refused = "FEATURES_OK without DRIVER";
        }
        if (refused == null && (added & FEATURES_OK) != 0 && !featuresAcceptable()) {
            requested &= ~FEATURES_OK;
            added &= ~FEATURES_OK;
        }
        if (refused == null && (added & DRIVER_OK) != 0 && (requested & FEATURES_OK) == 0) {
            refused = "DRIVER_OK without FEATURES_OK";
        }
        if (refused != null) {
            guestErrors.report("status", String.format("ignored Status %s over %s: %s",
                    DeviceStatus.describe(value), DeviceStatus.describe(current), refused));
            return;
        }
        int newBits = requested;
        status.updateAndGet(s -> newBits | (s & DEVICE_NEEDS_RESET));
        if ((added & DRIVER_OK) != 0 && (requested & FAILED) == 0) {
            activate();
        }
    }

    /** 3.1.1 step 5-6, 6.1: VIRTIO_F_VERSION_1 accepted, nothing accepted that was not offered. */
    private boolean featuresAcceptable() {
        String why = null;
        if ((driverFeatures & ~deviceFeatures) != 0) {
            why = String.format("driver accepted features %#x the device did not offer", driverFeatures & ~deviceFeatures);
        } else if (!FeatureBits.has(driverFeatures, FeatureBits.VIRTIO_F_VERSION_1)) {
            why = "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)";
        } else if (!device.acceptsFeatures(driverFeatures)) {
            why = String.format("device refuses features %#x", driverFeatures);
        }
        if (why != null) {
            guestErrors.report("features", "FEATURES_OK refused: " + why);
            return false;
        }
        return true;
    }

    private void activate() {
        for (int i = 0; i < queues.size(); i++) {
            Virtqueue q = queues.get(i);
            if (q.isReady()) {
                Optional<QueueError> error = q.activate(memory, driverFeatures);
                if (error.isPresent()) {
                    guestErrors.report("queue-setup", "queue " + i + ": " + error.get().describe() + "; device needs reset");
                    signals.needsReset();
                    return;
                }
            }
        }
        // Overlapping rings are a driver error (2.7: one writer per part), refused here like a
        // misaligned ring. The device survives the aliasing this cannot see (buffers over rings,
        // other devices' rings) through its per-pass budget and pop-consistent re-checks.
        Optional<QueueError> overlap = Virtqueue.findOverlap(queues);
        if (overlap.isPresent()) {
            guestErrors.report("queue-setup", overlap.get().describe() + "; device needs reset");
            signals.needsReset();
            return;
        }
        try {
            device.activate(driverFeatures, queues, memory, signals);
            activated = true;
        } catch (ActivationException e) {
            guestErrors.report("activate", e.getMessage() + "; device needs reset");
            signals.needsReset();
        }
    }

    /**
     * Status = 0 (2.4): the device forgets everything the driver set up. Bounded: the device's
     * reset waits for a request in progress only so long (then gives up on it and is marked
     * broken); whatever that request does later cannot reach the new setup, because the old
     * signals are cut off first and the queues are replaced, not cleared.
     */
    private void reset() {
        signals.revoke();
        device.reset();
        queues = freshQueues(device);
        signals = new Signals();
        activated = false;
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        driverFeatures = 0;
        queueSel = 0;
        interruptStatus.set(0);
        status.set(0);
    }

    // ---- for the vmm and tests ----

    public VirtioDevice device() {
        return device;
    }

    /** The queue objects the driver configures (read-only use: the device owns them while active). */
    public List<Virtqueue> queues() {
        return queues;
    }

    public int status() {
        return status.get();
    }

    public int interruptStatus() {
        return interruptStatus.get();
    }

    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    public synchronized boolean isActivated() {
        return activated;
    }

    /** Transport bugs caught at {@link #read}/{@link #write}; tests assert this stays 0. */
    public int internalErrors() {
        return internalErrors.get();
    }

    /**
     * How devices reach the driver; atomics only, so device threads never wait for register
     * accesses. One per driver setup: a reset revokes it, so a device thread that finishes an
     * old request late changes nothing the next setup sees (each update re-reads {@link #live}
     * inside its compare-and-set loop, so it cannot land after the reset cleared the registers).
     */
    private final class Signals implements DeviceSignals {
        private volatile boolean live = true;

        void revoke() {
            live = false;
        }

        @Override
        public void usedBuffers(int queueIndex) {
            raise(INTERRUPT_USED_BUFFER);
        }

        @Override
        public void configChanged() {
            if (live) {
                configGeneration.incrementAndGet();
                raise(INTERRUPT_CONFIG_CHANGE);
            }
        }

        @Override
        public void needsReset() {
            int s = status.updateAndGet(x -> live ? x | DEVICE_NEEDS_RESET : x);
            // 2.1.2: with DRIVER_OK set, tell the driver through a configuration change notification.
            if ((s & DRIVER_OK) != 0 && (s & DEVICE_NEEDS_RESET) != 0) {
                raise(INTERRUPT_CONFIG_CHANGE);
            }
        }

        @Override
        public void requeue(int queueIndex) {
            if (live) {
                notifier.requeue(queueIndex);
            }
        }

        private void raise(int bit) {
            int bits = interruptStatus.updateAndGet(x -> live ? x | bit : x);
            if (live && (bits & bit) != 0) {
                interrupt.raise(bits);
            }
        }
    }
}
