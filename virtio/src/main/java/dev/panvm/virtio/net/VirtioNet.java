package dev.panvm.virtio.net;

import dev.panvm.virtio.ConfigSpace;
import dev.panvm.virtio.DeviceType;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.PopResult;
import dev.panvm.virtio.queue.ScatterGatherList;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueueError.ChainError;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The virtio network device (virtio 1.2, 5.1) with one receive and one transmit queue, no
 * offloads, no mergeable receive buffers, no control queue.
 *
 * <p>Transmit (queue 1): each chain is a 12-byte {@link VirtioNetHeader} and a frame; the frame
 * goes to the backend straight from guest memory when it lies in one buffer element, otherwise
 * gathered into device scratch memory first.
 *
 * <p>Receive (queue 0): a frame is read into the next available chain, directly into guest
 * memory when the chain is one buffer of at least 1526 bytes (what the spec asks drivers to post,
 * 5.1.6.3.1), otherwise through scratch memory; the device writes the header in front. When the
 * backend has frames and the driver has posted no buffers, the frames are dropped and counted
 * (the driver refills; a TAP read queue must not back up into the host).
 *
 * <p>The vmm calls {@link #receiveFromBackend()} whenever the backend becomes readable; a
 * notification on the receive queue (new buffers) also delivers waiting frames.
 */
public final class VirtioNet extends VirtioDeviceBase {
    public static final int VIRTIO_NET_F_MAC = 5;
    public static final int VIRTIO_NET_F_STATUS = 16;
    public static final int VIRTIO_NET_S_LINK_UP = 1;

    public static final int RECEIVE_QUEUE = 0;
    public static final int TRANSMIT_QUEUE = 1;
    public static final int DEFAULT_QUEUE_SIZE = 256;

    /** An Ethernet frame without FCS or VLAN tag at MTU 1500: the largest the device handles without GSO. */
    public static final int MAX_FRAME = 1514;
    /** The MTU the device works with: VIRTIO_NET_F_MTU is not offered, so the Ethernet default. */
    public static final int MTU = 1500;
    /**
     * The largest frame the driver may transmit: without GSO (no VIRTIO_NET_F_HOST_TSO4/6, UFO,
     * USO) and without VIRTIO_NET_F_MTU, an MTU-sized packet with its Ethernet header and one
     * 802.1Q tag. The limit Linux puts on a frame a device passes on (is_skb_forwardable:
     * mtu + hard_header_len + VLAN_HLEN); bigger frames are dropped and counted, not sent.
     */
    public static final int MAX_TX_FRAME = 14 + 4 + MTU;
    /** Scratch space for gathering and scattering: the largest frame a TAP device can return. */
    private static final int SCRATCH_SIZE = 65550;
    /** How many frames one call drops when no receive buffer is posted, so a flood cannot pin the thread. */
    private static final int MAX_DROPS_PER_CALL = 1024;

    // struct virtio_net_config (5.1.4)
    private static final int CONFIG_MAC = 0;
    private static final int CONFIG_STATUS = 6;
    private static final int CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
    private static final int CONFIG_MTU = 10;
    private static final int CONFIG_SIZE = 12;

    private final NetBackend backend;
    private final long features;
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    private final NetMetrics metrics = new NetMetrics();
    private final MemorySegment rxScratch;
    private final MemorySegment txScratch;
    private final MemorySegment headerScratch = MemorySegment.ofArray(new byte[VirtioNetHeader.SIZE]);

    /**
     * @param mac the address to offer with VIRTIO_NET_F_MAC, or null to let the driver pick a
     *            random one
     */
    public VirtioNet(NetBackend backend, MacAddress mac) {
        this(backend, mac, DEFAULT_QUEUE_SIZE);
    }

    public VirtioNet(NetBackend backend, MacAddress mac, int queueSize) {
        super(DeviceType.NETWORK_CARD, 2, queueSize);
        this.backend = backend;
        long f = FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VIRTIO_NET_F_STATUS);
        if (mac != null) {
            f |= FeatureBits.bit(VIRTIO_NET_F_MAC);
            for (int i = 0; i < 6; i++) {
                config.putU8(CONFIG_MAC + i, mac.octet(i));
            }
        }
        this.features = f;
        config.putU16(CONFIG_STATUS, VIRTIO_NET_S_LINK_UP);
        config.putU16(CONFIG_MAX_VIRTQUEUE_PAIRS, 1);
        config.putU16(CONFIG_MTU, MTU);
        Arena arena = Arena.ofAuto();
        this.rxScratch = arena.allocate(SCRATCH_SIZE, 64);
        this.txScratch = arena.allocate(MAX_TX_FRAME, 64);
    }


    @Override
    public long features() {
        return features;
    }



    @Override
    public void readConfig(long offset, MemorySegment data) {
        config.read(offset, data);
    }

    @Override
    public void writeConfig(long offset, MemorySegment data) {
        // The MAC is writable only through the legacy interface (5.1.4.2); nothing else is.
        ignoredConfigWrite(offset, data);
    }

    public NetMetrics metrics() {
        return metrics;
    }

    /**
     * Delivers waiting frames into posted receive buffers; the vmm calls this whenever the
     * backend is readable. Before the driver is ready (or after the device failed) the frames are
     * dropped, so a level-triggered poll on the backend never spins.
     */
    public void receiveFromBackend() {
        locked(() -> {
            if (!runActive(this::receive)) {
                dropWaitingFrames();
            }
        });
    }

    @Override
    protected void handleQueue(int index, Activation a) {
        if (index == RECEIVE_QUEUE) {
            receive(a);
        } else {
            drain(TRANSMIT_QUEUE, a, this::transmit);
        }
    }

    // ---- transmit ----

    private long transmit(DescriptorChain chain, Activation a) {
        ScatterGatherList readable = chain.readable();
        if (!chain.writable().isEmpty() || readable.length() < VirtioNetHeader.SIZE) {
            malformed("tx chain " + chain.headIndex() + ": needs a device-readable header and frame only");
            return 0;
        }
        readable.first(VirtioNetHeader.SIZE).copyTo(a.memory(), headerScratch);
        VirtioNetHeader header = VirtioNetHeader.read(headerScratch);
        ScatterGatherList frame = readable.skip(VirtioNetHeader.SIZE);
        if (header.gsoType() != VirtioNetHeader.VIRTIO_NET_HDR_GSO_NONE) {
            metrics.txDropped.increment();
            guestErrors.report("tx-gso", "frame with gso_type " + header.gsoType() + " (GSO was not offered)");
            return 0;
        }
        if (frame.length() == 0) {
            metrics.txDropped.increment();
            guestErrors.report("tx-size", "empty frame");
            return 0;
        }
        if (frame.length() > MAX_TX_FRAME) {
            // What the device offered caps the frame, not what a TAP would take (65535): a
            // backend, and the host network behind it, never see a frame the device could not
            // have sent. Dropped as Linux drops an oversized frame a device passes on.
            metrics.txDropped.increment();
            metrics.txDroppedTooBig.increment();
            guestErrors.report("tx-too-big", "frame of " + frame.length() + " bytes (at most " + MAX_TX_FRAME + ")");
            return 0;
        }
        MemorySegment out;
        if (frame.elements().size() == 1) {
            BufferElement e = frame.elements().getFirst();
            out = a.memory().slice(e.address(), e.length());
        } else {
            out = txScratch.asSlice(0, frame.length());
            frame.copyTo(a.memory(), out);
        }
        try {
            backend.write(out);
            metrics.txFrames.increment();
            metrics.txBytes.add(out.byteSize());
        } catch (IOException e) {
            metrics.txErrors.increment();
            guestErrors.report("tx-backend", e.toString());
        }
        return 0;
    }

    // ---- receive ----

    private void receive(Activation a) {
        Virtqueue rx = a.queues().get(RECEIVE_QUEUE);
        if (!rx.isActive()) {
            // Broken since the last pass by a check outside pop (hasAvailable's): report it now.
            rx.error().ifPresent(e -> queueError(e, a));
            dropWaitingFrames();
            return;
        }
        int used = 0;
        try {
            for (int budget = DRAIN_BUDGET; ; budget--) {
                if (budget <= 0) {
                    // As drain: one pass per wake-up; the backend's readable fd, or this, brings the device back.
                    a.signals().requeue(RECEIVE_QUEUE);
                    return;
                }
                PopResult r = rx.pop();
                if (r instanceof PopResult.Empty) {
                    // Ask to be notified of new buffers, and look once more before giving up.
                    if (rx.enableNotification()) {
                        continue;
                    }
                    dropWaitingFrames();
                    return;
                } else if (r instanceof QueueError e) {
                    queueError(e, a);
                    return;
                } else if (r instanceof ChainError e) {
                    chainError(e);
                    rx.addUsed(e.headIndex(), 0);
                    used++;
                } else if (r instanceof DescriptorChain chain) {
                    long written = receiveInto(chain, a);
                    if (a.isRevoked()) {
                        return;
                    }
                    if (written < 0) {
                        rx.undoPop();
                        return;
                    }
                    rx.addUsed(chain.headIndex(), written);
                    used++;
                }
            }
        } finally {
            if (used > 0 && !a.isRevoked() && rx.needsNotification()) {
                a.signals().usedBuffers(RECEIVE_QUEUE);
            }
        }
    }

    /** Puts the next frame into {@code chain}; returns the bytes written, or -1 if there is no frame. */
    private long receiveInto(DescriptorChain chain, Activation a) {
        ScatterGatherList writable = chain.writable();
        if (!chain.readable().isEmpty() || writable.length() <= VirtioNetHeader.SIZE) {
            malformed("rx chain " + chain.headIndex() + ": needs device-writable buffers only, more than a header");
            return 0;
        }
        try {
            if (writable.elements().size() == 1 && writable.length() >= VirtioNetHeader.SIZE + MAX_FRAME) {
                BufferElement e = writable.elements().getFirst();
                MemorySegment buffer = a.memory().slice(e.address(), e.length());
                int n = backend.read(buffer.asSlice(VirtioNetHeader.SIZE));
                if (n <= 0) {
                    return -1;
                }
                VirtioNetHeader.RECEIVED.write(buffer);
                return delivered(n);
            }
            for (int attempt = 0; attempt < MAX_DROPS_PER_CALL; attempt++) {
                int n = backend.read(rxScratch);
                if (n <= 0) {
                    return -1;
                }
                if (VirtioNetHeader.SIZE + (long) n > writable.length()) {
                    metrics.rxDroppedTooBig.increment();
                    guestErrors.report("rx-too-big", "frame of " + n + " bytes for a buffer of " + writable.length());
                    continue;
                }
                VirtioNetHeader.RECEIVED.write(headerScratch);
                writable.first(VirtioNetHeader.SIZE).copyFrom(a.memory(), headerScratch);
                writable.range(VirtioNetHeader.SIZE, n).copyFrom(a.memory(), rxScratch.asSlice(0, n));
                return delivered(n);
            }
            return -1;
        } catch (IOException e) {
            metrics.rxErrors.increment();
            guestErrors.report("rx-backend", e.toString());
            return -1;
        }
    }

    private long delivered(int frameLength) {
        metrics.rxFrames.increment();
        metrics.rxBytes.add(frameLength);
        return VirtioNetHeader.SIZE + (long) frameLength;
    }

    private void dropWaitingFrames() {
        try {
            for (int i = 0; i < MAX_DROPS_PER_CALL && backend.read(rxScratch) > 0; i++) {
                metrics.rxDroppedNoBuffer.increment();
            }
        } catch (IOException e) {
            metrics.rxErrors.increment();
            guestErrors.report("rx-backend", e.toString());
        }
    }

    private void malformed(String message) {
        metrics.malformedChains.increment();
        guestErrors.report("malformed", message);
    }
}
