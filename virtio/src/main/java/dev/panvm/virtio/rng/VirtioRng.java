package dev.panvm.virtio.rng;

import dev.panvm.virtio.DeviceType;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.ScatterGatherList;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The virtio entropy device (virtio 1.2, 5.4): one request queue of device-writable buffers,
 * each filled with random bytes from an {@link EntropySource}. The device may use less than the
 * whole buffer (5.4.6.1); it fills at most {@link #MAX_BYTES_PER_REQUEST} per request, so an
 * absurd buffer costs no more than a sensible one.
 */
public final class VirtioRng extends VirtioDeviceBase {
    public static final int DEFAULT_QUEUE_SIZE = 256;
    public static final long MAX_BYTES_PER_REQUEST = 64 * 1024;

    private final EntropySource source;
    private final RngMetrics metrics = new RngMetrics();

    public VirtioRng(EntropySource source) {
        this(source, DEFAULT_QUEUE_SIZE);
    }

    public VirtioRng(EntropySource source, int queueSize) {
        super(DeviceType.ENTROPY_SOURCE, 1, queueSize);
        this.source = source;
    }


    @Override
    public long features() {
        return FeatureBits.TRANSPORT_FEATURES;
    }



    /** The entropy device has no configuration space. */
    @Override
    public void readConfig(long offset, MemorySegment data) {
    }

    @Override
    public void writeConfig(long offset, MemorySegment data) {
        guestErrors.report("config-write", "write into a device without configuration space");
    }

    public RngMetrics metrics() {
        return metrics;
    }

    @Override
    protected void handleQueue(int index, Activation a) {
        drain(index, a, this::fill);
    }

    private long fill(DescriptorChain chain, Activation a) {
        if (!chain.readable().isEmpty()) {
            // 5.4.6.2: the driver places only device-writable buffers.
            metrics.malformed.increment();
            guestErrors.report("malformed", "chain " + chain.headIndex() + " has device-readable buffers");
            return 0;
        }
        ScatterGatherList writable = chain.writable();
        long written = 0;
        try {
            for (MemorySegment dst : writable.first(Math.min(writable.length(), MAX_BYTES_PER_REQUEST)).segments(a.memory())) {
                long n = source.fill(dst);
                written += n;
                if (n < dst.byteSize()) {
                    break;
                }
            }
        } catch (IOException e) {
            metrics.sourceErrors.increment();
            guestErrors.report("source", e.toString());
        }
        metrics.requests.increment();
        metrics.bytes.add(written);
        return written;
    }
}
