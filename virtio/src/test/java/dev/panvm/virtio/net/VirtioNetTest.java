package dev.panvm.virtio.net;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.queue.BufferElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioNetTest {
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(4 << 20);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, 4 << 20);
    private final RecordingInterrupts interrupts = new RecordingInterrupts();
    private final InMemoryNetBackend backend = InMemoryNetBackend.create();
    private final VirtioNet net = new VirtioNet(backend, MAC, 64);
    private final MockMmioDriver driver = new MockMmioDriver(new MmioTransport(net, memory, interrupts), memory, allocator);
    private MockSplitQueue rx;
    private MockSplitQueue tx;

    @BeforeEach
    void start() {
        List<MockSplitQueue> queues = driver.initialize(-1L, 64);
        rx = queues.get(VirtioNet.RECEIVE_QUEUE);
        tx = queues.get(VirtioNet.TRANSMIT_QUEUE);
    }

    @AfterEach
    void close() {
        assertEquals(0, memory.rejectedSlices());
        assertEquals(0, net.internalErrors());
        memory.close();
    }

    private static byte[] frame(int length, int seed) {
        byte[] f = new byte[length];
        for (int i = 0; i < length; i++) {
            f[i] = (byte) (seed + i * 7);
        }
        return f;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void offersMacAndLinkStatusInConfigSpace() {
        long f = driver.deviceFeatures();
        assertTrue(FeatureBits.has(f, VirtioNet.VIRTIO_NET_F_MAC));
        assertTrue(FeatureBits.has(f, VirtioNet.VIRTIO_NET_F_STATUS));
        for (int i = 0; i < 6; i++) {
            assertEquals(MAC.octet(i), driver.readConfig(i, 1));
        }
        assertEquals(VirtioNet.VIRTIO_NET_S_LINK_UP, driver.readConfig(6, 2));
        assertEquals("52:54:00:12:34:56", MAC.toString());
    }

    @Test
    void transmitsAFrameWithTheHeaderInItsOwnDescriptor() {
        byte[] f = frame(60, 1);
        tx.addChain(List.of(tx.readable(new byte[VirtioNetHeader.SIZE]), tx.readable(f)));
        driver.kick(VirtioNet.TRANSMIT_QUEUE);
        assertEquals(List.of(new UsedElement(0, 0)), tx.takeUsed());
        List<byte[]> sent = backend.takeSent();
        assertEquals(1, sent.size());
        assertArrayEquals(f, sent.getFirst());
    }

    @Test
    void transmitsAFrameGatheredFromSeveralDescriptors() {
        byte[] f = frame(1514, 3);
        byte[] all = concat(new byte[VirtioNetHeader.SIZE], f);
        tx.addIndirectChain(List.of(
                tx.readable(Arrays.copyOfRange(all, 0, 20)),
                tx.readable(Arrays.copyOfRange(all, 20, 700)),
                tx.readable(Arrays.copyOfRange(all, 700, all.length))));
        driver.kick(VirtioNet.TRANSMIT_QUEUE);
        assertArrayEquals(f, backend.takeSent().getFirst());
        assertEquals(1, net.metrics().snapshot().txFrames());
    }

    @Test
    void dropsAndCountsTransmitFramesAboveTheMtuTheDeviceOffers() {
        // Neither GSO nor VIRTIO_NET_F_MTU: at most MTU + Ethernet header + one VLAN tag.
        assertEquals(1518, VirtioNet.MAX_TX_FRAME);
        byte[] largest = frame(VirtioNet.MAX_TX_FRAME, 5);
        tx.addChain(List.of(tx.readable(concat(new byte[VirtioNetHeader.SIZE], largest))));
        tx.addChain(List.of(tx.readable(new byte[VirtioNetHeader.SIZE]), tx.readable(frame(VirtioNet.MAX_TX_FRAME + 1, 6))));
        tx.addChain(List.of(tx.readable(new byte[VirtioNetHeader.SIZE]), tx.readable(frame(65_550, 7))));
        tx.addChain(List.of(tx.readable(concat(new byte[VirtioNetHeader.SIZE], frame(9000, 8)))));
        driver.kick(VirtioNet.TRANSMIT_QUEUE);
        assertEquals(4, tx.takeUsed().size(), "every chain goes back, sent or dropped");
        List<byte[]> sent = backend.takeSent();
        assertEquals(1, sent.size(), "only the frame within the limit reaches the backend");
        assertArrayEquals(largest, sent.getFirst());
        NetMetrics.Snapshot m = net.metrics().snapshot();
        assertEquals(1, m.txFrames());
        assertEquals(3, m.txDroppedTooBig());
        assertEquals(3, m.txDropped());
        assertTrue(net.isActive(), "an oversized frame is the guest's loss, not a device error");
    }

    @Test
    void dropsMalformedTransmitChains() {
        tx.addChain(List.of(tx.readable(new byte[8])));                         // shorter than the header
        tx.addChain(List.of(tx.readable(new byte[12]), tx.writable(64)));       // writable buffer
        byte[] gso = new byte[VirtioNetHeader.SIZE + 60];
        gso[1] = 1;                                                             // VIRTIO_NET_HDR_GSO_TCPV4
        tx.addChain(List.of(tx.readable(gso)));
        tx.addChain(List.of(tx.readable(new byte[VirtioNetHeader.SIZE])));     // empty frame
        driver.kick(VirtioNet.TRANSMIT_QUEUE);
        assertEquals(4, tx.takeUsed().size());
        assertEquals(0, backend.takeSent().size());
        assertTrue(net.isActive());
    }

    @Test
    void receivesIntoAPostedBuffer() {
        BufferElement buf = rx.writable(VirtioNetHeader.SIZE + 1514);
        rx.addChain(List.of(buf));
        driver.kick(VirtioNet.RECEIVE_QUEUE);
        assertEquals(List.of(), rx.takeUsed(), "no frame yet: the buffer stays posted");

        byte[] f = frame(98, 5);
        backend.inject(f);
        interrupts.take();
        net.receiveFromBackend();
        List<UsedElement> used = rx.takeUsed();
        assertEquals(List.of(new UsedElement(0, VirtioNetHeader.SIZE + 98)), used);
        byte[] got = rx.contents(buf);
        assertArrayEquals(f, Arrays.copyOfRange(got, VirtioNetHeader.SIZE, VirtioNetHeader.SIZE + 98));
        VirtioNetHeader h = VirtioNetHeader.read(MemorySegment.ofArray(Arrays.copyOf(got, VirtioNetHeader.SIZE)));
        assertEquals(VirtioNetHeader.RECEIVED, h);
        assertEquals(1, h.numBuffers());
        assertEquals(1, interrupts.take());
    }

    @Test
    void receivesIntoScatteredBuffers() {
        BufferElement a = rx.writable(10);
        BufferElement b = rx.writable(100);
        BufferElement c = rx.writable(2000);
        rx.addChain(List.of(a, b, c));
        byte[] f = frame(600, 9);
        backend.inject(f);
        driver.kick(VirtioNet.RECEIVE_QUEUE);
        assertEquals(VirtioNetHeader.SIZE + 600, rx.takeUsed().getFirst().length());
        byte[] got = concat(concat(rx.contents(a), rx.contents(b)), rx.contents(c));
        assertArrayEquals(f, Arrays.copyOfRange(got, VirtioNetHeader.SIZE, VirtioNetHeader.SIZE + 600));
    }

    @Test
    void dropsFramesWhenNoBufferIsPosted() {
        backend.inject(frame(60, 1));
        backend.inject(frame(60, 2));
        net.receiveFromBackend();
        assertEquals(0, backend.pending());
        assertEquals(2, net.metrics().snapshot().rxDroppedNoBuffer());
        // With buffers posted again, frames arrive again.
        rx.addChain(List.of(rx.writable(2048)));
        backend.inject(frame(60, 3));
        net.receiveFromBackend();
        assertEquals(1, rx.takeUsed().size());
    }

    @Test
    void dropsFramesTooBigForAScatteredBuffer() {
        rx.addChain(List.of(rx.writable(40), rx.writable(40)));
        backend.inject(frame(200, 1));
        backend.inject(frame(60, 2));
        net.receiveFromBackend();
        assertEquals(List.of(new UsedElement(0, VirtioNetHeader.SIZE + 60)), rx.takeUsed());
        assertEquals(1, net.metrics().snapshot().rxDroppedTooBig());
    }

    @Test
    void loopbackDeliversWhatWasSent() {
        InMemoryNetBackend loop = InMemoryNetBackend.loopback();
        VirtioNet n = new VirtioNet(loop, null, 64);
        SimpleGuestMemory m = SimpleGuestMemory.ofSize(1 << 20);
        MockMmioDriver d = new MockMmioDriver(new MmioTransport(n, m, interrupts), m, new GuestAllocator(0x1000, 1 << 20));
        List<MockSplitQueue> qs = d.initialize(-1L, 64);
        assertTrue(!FeatureBits.has(d.deviceFeatures(), VirtioNet.VIRTIO_NET_F_MAC));
        BufferElement buf = qs.get(0).writable(1600);
        qs.get(0).addChain(List.of(buf));
        byte[] f = frame(64, 4);
        qs.get(1).addChain(List.of(qs.get(1).readable(concat(new byte[VirtioNetHeader.SIZE], f))));
        d.kick(1);
        n.receiveFromBackend();
        assertArrayEquals(f, Arrays.copyOfRange(qs.get(0).contents(buf), 12, 76));
        m.close();
    }

    @Test
    void framesArrivingBeforeTheDriverIsReadyAreDropped() {
        InMemoryNetBackend b = InMemoryNetBackend.create();
        VirtioNet n = new VirtioNet(b, MAC, 64);
        b.inject(frame(60, 1));
        n.receiveFromBackend();
        assertEquals(0, b.pending());
        assertEquals(1, n.metrics().snapshot().rxDroppedNoBuffer());
    }
}
