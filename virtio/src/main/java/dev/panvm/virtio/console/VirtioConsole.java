package dev.panvm.virtio.console;

import dev.panvm.virtio.ConfigSpace;
import dev.panvm.virtio.DeviceType;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.ScatterGatherList;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The virtio console device (virtio 1.2, 5.3) with a single port: without
 * VIRTIO_CONSOLE_F_MULTIPORT there are no control queues, only port 0's receiveq and transmitq,
 * a byte stream each way between the guest and a {@link ConsolePort}.
 *
 * <p>transmitq (queue 1, guest to host): each device-readable buffer element goes to
 * {@link ConsolePort#write} straight from guest memory, in chain order; the used length is 0.
 *
 * <p>receiveq (queue 0, host to guest): waiting input is read with {@link ConsolePort#read}
 * straight into the device-writable buffers of the next posted chain, element by element, and
 * the chain goes back with the number of bytes written. A chain is used only when input waits
 * for it; input with no buffer posted stays in the port (nothing is dropped) until the driver
 * posts buffers. The vmm calls {@link #receiveFromPort()} whenever the port has new input; a
 * notification on the receiveq (new buffers) also delivers waiting input.
 *
 * <p>emerg_wr (VIRTIO_CONSOLE_F_EMERG_WRITE): a 32-bit write of that configuration field sends
 * its low byte to the port at any time, also before the driver set the device up and after it
 * failed (5.3.5.1): that is what it is for, early boot and a guest whose rings are corrupt.
 */
public final class VirtioConsole extends VirtioDeviceBase {
    public static final int VIRTIO_CONSOLE_F_SIZE = 0;
    public static final int VIRTIO_CONSOLE_F_MULTIPORT = 1;
    public static final int VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

    /** receiveq(port0) (5.3.2). */
    public static final int RECEIVEQ = 0;
    /** transmitq(port0) (5.3.2). */
    public static final int TRANSMITQ = 1;
    public static final int DEFAULT_QUEUE_SIZE = 256;

    // struct virtio_console_config (5.3.4)
    static final int CONFIG_COLS = 0;
    static final int CONFIG_ROWS = 2;
    static final int CONFIG_MAX_NR_PORTS = 4;
    static final int CONFIG_EMERG_WR = 8;
    private static final int CONFIG_SIZE = 12;

    private static final long FEATURES = FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VIRTIO_CONSOLE_F_EMERG_WRITE);

    private final ConsolePort port;
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    private final ConsoleMetrics metrics = new ConsoleMetrics();

    public VirtioConsole(ConsolePort port) {
        this(port, DEFAULT_QUEUE_SIZE);
    }

    public VirtioConsole(ConsolePort port, int queueSize) {
        super(DeviceType.CONSOLE, 2, queueSize);
        this.port = port;
        // cols and rows stay 0: VIRTIO_CONSOLE_F_SIZE is not offered, the host knows no size.
        config.putU32(CONFIG_MAX_NR_PORTS, 1);
    }

    @Override
    public long features() {
        return FEATURES;
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        config.read(offset, data);
    }

    /**
     * Only emerg_wr is writable, with the 32-bit access its width asks for (4.2.2.2); any other
     * write is a guest error, logged and ignored.
     */
    @Override
    public void writeConfig(long offset, MemorySegment data) {
        if (offset == CONFIG_EMERG_WR && data.byteSize() == Integer.BYTES) {
            emergencyWrite(data.asSlice(0, 1));
        } else {
            ignoredConfigWrite(offset, data);
        }
    }

    public ConsoleMetrics metrics() {
        return metrics;
    }

    /**
     * Delivers waiting input into posted receive buffers; the vmm calls this (on the device
     * thread) whenever the port has new input. Does nothing before the driver is ready or after
     * the device failed: the input waits in the port.
     */
    public void receiveFromPort() {
        runActive(a -> drain(RECEIVEQ, a, this::receive));
    }

    @Override
    protected void handleQueue(int index, Activation a) {
        drain(index, a, index == RECEIVEQ ? this::receive : this::transmit);
    }

    // ---- transmitq ----

    private long transmit(DescriptorChain chain, Activation a) {
        if (!chain.writable().elements().isEmpty()) {
            // 5.3.6.1: the driver MUST NOT put a device-writable buffer in a transmitq.
            malformed("transmitq chain " + chain.headIndex() + " has device-writable buffers");
            return 0;
        }
        try {
            for (MemorySegment src : chain.readable().segments(a.memory())) {
                port.write(src);
                metrics.txBytes.add(src.byteSize());
            }
            metrics.txChains.increment();
        } catch (IOException e) {
            metrics.portWriteErrors.increment();
            guestErrors.report("port-write", e.toString());
        }
        return 0;
    }

    // ---- receiveq ----

    /** Fills the chain's buffers with waiting input; {@link ChainHandler#PUT_BACK} when there is none. */
    private long receive(DescriptorChain chain, Activation a) {
        ScatterGatherList writable = chain.writable();
        if (!chain.readable().elements().isEmpty() || writable.isEmpty()) {
            // 5.3.6.1: no device-readable buffer in a receiveq; and a chain without room would
            // be put back forever, holding up the input behind it.
            malformed("receiveq chain " + chain.headIndex() + ": needs device-writable buffers only, at least one byte");
            return 0;
        }
        long written = 0;
        try {
            for (MemorySegment dst : writable.segments(a.memory())) {
                int n = port.read(dst);
                written += n;
                if (n < dst.byteSize()) {
                    break;
                }
            }
        } catch (IOException e) {
            metrics.portReadErrors.increment();
            guestErrors.report("port-read", e.toString());
        }
        if (written == 0) {
            return ChainHandler.PUT_BACK;
        }
        metrics.rxChains.increment();
        metrics.rxBytes.add(written);
        return written;
    }

    // ---- emerg_wr ----

    /**
     * 5.3.5.1: the device MUST allow a write to emerg_wr even on an unconfigured device and
     * SHOULD transmit its lower byte. On the device's lock, so the byte does not land in the
     * middle of a transmitq buffer that another thread is writing to the port; a vCPU writes it,
     * so it waits for the lock only as long as a reset would, then drops the byte.
     */
    private void emergencyWrite(MemorySegment lowByte) {
        boolean done = lockedBounded(() -> {
            try {
                port.write(lowByte);
                metrics.emergencyWrites.increment();
            } catch (IOException e) {
                metrics.portWriteErrors.increment();
                guestErrors.report("port-write", e.toString());
            }
        });
        if (!done) {
            metrics.portWriteErrors.increment();
            guestErrors.report("port-write", "emerg_wr byte dropped: the device is busy in its port");
        }
    }

    private void malformed(String message) {
        metrics.malformedChains.increment();
        guestErrors.report("malformed", message);
    }
}
