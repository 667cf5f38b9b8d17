package dev.panvm.virtio.mmio;

import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.panvm.virtio.DeviceStatus.ACKNOWLEDGE;
import static dev.panvm.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static dev.panvm.virtio.DeviceStatus.DRIVER;
import static dev.panvm.virtio.DeviceStatus.DRIVER_OK;
import static dev.panvm.virtio.DeviceStatus.FAILED;
import static dev.panvm.virtio.DeviceStatus.FEATURES_OK;
import static dev.panvm.virtio.mmio.MmioRegister.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MmioTransportTest {
    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(1 << 20);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, 1 << 20);
    private final RecordingInterrupts interrupts = new RecordingInterrupts();
    private final EntropySource counting = new EntropySource() {
        private byte next;

        @Override
        public long fill(MemorySegment dst) {
            for (long i = 0; i < dst.byteSize(); i++) {
                dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, ++next);
            }
            return dst.byteSize();
        }

        @Override
        public void close() {
        }
    };
    private final VirtioRng rng = new VirtioRng(counting, 64);
    private final MmioTransport transport = new MmioTransport(rng, memory, interrupts);
    private final MockMmioDriver driver = new MockMmioDriver(transport, memory, allocator);

    @AfterEach
    void close() {
        assertEquals(0, memory.rejectedSlices());
        assertEquals(0, rng.internalErrors());
        memory.close();
    }

    @Test
    void identifiesItselfAsAVersion2VirtioMmioDevice() {
        assertEquals(0x74726976, driver.read(MAGIC_VALUE));
        assertEquals(2, driver.read(VERSION));
        assertEquals(4, driver.read(DEVICE_ID));
        assertEquals(MmioTransport.VENDOR_ID, driver.read(MmioRegister.VENDOR_ID));
        assertEquals(0, driver.read(STATUS));
        assertEquals(0, driver.read(INTERRUPT_STATUS));
        assertEquals(0, driver.read(CONFIG_GENERATION));
        assertEquals(-1, driver.read(SHM_LEN_LOW));
        assertEquals(-1, driver.read(SHM_BASE_HIGH));
    }

    @Test
    void offersVersion1EventIdxAndIndirectDescriptors() {
        long f = driver.deviceFeatures();
        assertTrue(FeatureBits.has(f, FeatureBits.VIRTIO_F_VERSION_1));
        assertTrue(FeatureBits.has(f, FeatureBits.VIRTIO_F_EVENT_IDX));
        assertTrue(FeatureBits.has(f, FeatureBits.VIRTIO_F_INDIRECT_DESC));
        driver.write(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, driver.read(DEVICE_FEATURES));
    }

    @Test
    void walksTheStatusHandshake() {
        driver.setStatus(ACKNOWLEDGE);
        assertEquals(ACKNOWLEDGE, driver.status());
        driver.addStatus(DRIVER);
        driver.writeDriverFeatures(FeatureBits.TRANSPORT_FEATURES);
        driver.addStatus(FEATURES_OK);
        assertEquals(ACKNOWLEDGE | DRIVER | FEATURES_OK, driver.status());
        driver.setupQueue(0, 64);
        driver.driverOk();
        assertEquals(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, driver.status());
        assertTrue(transport.isActivated());
        assertTrue(rng.isActive());
    }

    @Test
    void refusesFeaturesOkWithoutVersion1() {
        assertFalse(driver.negotiate(FeatureBits.bit(FeatureBits.VIRTIO_F_EVENT_IDX)));
        assertEquals(ACKNOWLEDGE | DRIVER, driver.status());
        // DRIVER_OK cannot follow.
        driver.addStatus(DRIVER_OK);
        assertEquals(ACKNOWLEDGE | DRIVER, driver.status());
        assertFalse(transport.isActivated());
    }

    @Test
    void refusesFeaturesTheDeviceDidNotOffer() {
        assertFalse(driver.negotiate(FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VirtioBlk.VIRTIO_BLK_F_RO)));
        assertTrue(driver.negotiate(FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1)));
    }

    @Test
    void driverFeaturesAreFrozenAfterFeaturesOk() {
        assertTrue(driver.negotiate(FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1)));
        driver.writeDriverFeatures(FeatureBits.TRANSPORT_FEATURES);
        assertEquals(FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1), transport.driverFeatures());
    }

    @Test
    void ignoresStatusWritesThatClearBitsOrSkipSteps() {
        driver.setStatus(DRIVER);
        assertEquals(0, driver.status(), "DRIVER without ACKNOWLEDGE");
        driver.setStatus(ACKNOWLEDGE | DRIVER);
        driver.setStatus(ACKNOWLEDGE);
        assertEquals(ACKNOWLEDGE | DRIVER, driver.status(), "clearing DRIVER");
        driver.setStatus(ACKNOWLEDGE | DRIVER | DRIVER_OK);
        assertEquals(ACKNOWLEDGE | DRIVER, driver.status(), "DRIVER_OK before FEATURES_OK");
        driver.setStatus(ACKNOWLEDGE | DRIVER | 0x10);
        assertEquals(ACKNOWLEDGE | DRIVER, driver.status(), "unknown bit");
        driver.addStatus(FAILED);
        assertEquals(ACKNOWLEDGE | DRIVER | FAILED, driver.status(), "the driver may give up at any time");
    }

    @Test
    void resetClearsEverything() {
        List<MockSplitQueue> queues = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 64);
        queues.get(0).addChain(List.of(queues.get(0).writable(16)));
        driver.kick(0);
        assertEquals(INTERRUPT_USED_BUFFER, driver.read(INTERRUPT_STATUS));

        driver.setStatus(0);
        assertEquals(0, driver.status());
        assertEquals(0, driver.read(INTERRUPT_STATUS));
        assertEquals(0, driver.read(QUEUE_READY));
        assertEquals(0, transport.driverFeatures());
        assertFalse(transport.isActivated());
        assertFalse(rng.isActive());
        assertFalse(transport.queues().get(0).isActive());
        assertEquals(0, transport.queues().get(0).descriptorTableAddress());

        // And the device works again after a fresh initialization.
        queues = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 32);
        queues.get(0).addChain(List.of(queues.get(0).writable(16)));
        driver.kick(0);
        assertEquals(List.of(new MockSplitQueue.UsedElement(0, 16)), queues.get(0).takeUsed());
    }

    @Test
    void queueNumMaxIsZeroForQueuesThatDoNotExist() {
        driver.write(QUEUE_SEL, 0);
        assertEquals(64, driver.read(QUEUE_NUM_MAX));
        driver.write(QUEUE_SEL, 1);
        assertEquals(0, driver.read(QUEUE_NUM_MAX));
        driver.write(QUEUE_SEL, -1);
        assertEquals(0, driver.read(QUEUE_NUM_MAX));
        driver.write(QUEUE_READY, 1);
        assertEquals(0, driver.read(QUEUE_READY));
    }

    @Test
    void aQueueNumAboveTheMaximumMakesTheDeviceNeedAReset() {
        assertTrue(driver.negotiate(FeatureBits.TRANSPORT_FEATURES));
        MockSplitQueue q = new MockSplitQueue(memory, allocator, 128);
        driver.setupQueue(0, 128, q.descriptorTableAddress(), q.availableRingAddress(), q.usedRingAddress());
        interrupts.take();
        driver.driverOk();
        assertEquals(DEVICE_NEEDS_RESET, driver.status() & DEVICE_NEEDS_RESET);
        assertEquals(INTERRUPT_CONFIG_CHANGE, driver.read(INTERRUPT_STATUS));
        assertEquals(1, interrupts.take());
        assertFalse(rng.isActive());
        // Writing back the status with DEVICE_NEEDS_RESET set changes nothing; a reset recovers.
        driver.addStatus(0);
        driver.setStatus(0);
        assertEquals(0, driver.status());
    }

    @Test
    void aQueueNumThatIsNotAPowerOfTwoMakesTheDeviceNeedAReset() {
        assertTrue(driver.negotiate(FeatureBits.TRANSPORT_FEATURES));
        MockSplitQueue q = new MockSplitQueue(memory, allocator, 64);
        driver.setupQueue(0, 48, q.descriptorTableAddress(), q.availableRingAddress(), q.usedRingAddress());
        driver.driverOk();
        assertEquals(DEVICE_NEEDS_RESET, driver.status() & DEVICE_NEEDS_RESET);
    }

    @Test
    void ringsOutsideGuestMemoryMakeTheDeviceNeedAReset() {
        assertTrue(driver.negotiate(FeatureBits.TRANSPORT_FEATURES));
        driver.setupQueue(0, 64, 0xffff_ffff_0000L, 0x2000, 0x3000);
        driver.driverOk();
        assertEquals(DEVICE_NEEDS_RESET, driver.status() & DEVICE_NEEDS_RESET);
    }

    @Test
    void queueConfigurationIsIgnoredWhileReadyAndAfterDriverOk() {
        List<MockSplitQueue> queues = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 64);
        driver.write(QUEUE_SEL, 0);
        driver.write(QUEUE_DESC_LOW, 0x5000);
        driver.write(QUEUE_NUM, 8);
        driver.write(QUEUE_READY, 0);
        assertEquals(queues.get(0).descriptorTableAddress(), transport.queues().get(0).descriptorTableAddress());
        assertEquals(64, transport.queues().get(0).size());
        assertEquals(1, driver.read(QUEUE_READY));
    }

    @Test
    void registerAddressesAreAssembledFromTheirHalves() {
        assertTrue(driver.negotiate(FeatureBits.TRANSPORT_FEATURES));
        driver.write(QUEUE_SEL, 0);
        driver.write(QUEUE_DESC_LOW, 0x1234_5670);
        driver.write(QUEUE_DESC_HIGH, 0x1);
        driver.write(QUEUE_DRIVER_HIGH, 0x2);
        driver.write(QUEUE_DRIVER_LOW, 0x8000_0000);
        driver.write(QUEUE_DEVICE_LOW, 0xffff_f000);
        assertEquals(0x1_1234_5670L, transport.queues().get(0).descriptorTableAddress());
        assertEquals(0x2_8000_0000L, transport.queues().get(0).availableRingAddress());
        assertEquals(0xffff_f000L, transport.queues().get(0).usedRingAddress());
    }

    @Test
    void ignoresAccessesOfTheWrongWidthOrAlignment() {
        assertEquals(0, driver.read(MAGIC_VALUE, 2));
        assertEquals(0, driver.read(MAGIC_VALUE, 1));
        assertEquals(0, driver.read(MAGIC_VALUE, 8));
        assertEquals(0, driver.read(MAGIC_VALUE + 1, 4));
        driver.write(STATUS, 1, ACKNOWLEDGE);
        driver.write(STATUS + 2, 4, ACKNOWLEDGE);
        driver.write(STATUS, 8, ACKNOWLEDGE);
        assertEquals(0, driver.status());
        assertEquals(0, driver.read(-4, 4));
        driver.write(-4, 4, 1);
    }

    @Test
    void readsOfWriteOnlyRegistersReturnZeroAndWritesToReadOnlyOnesAreIgnored() {
        driver.write(QUEUE_SEL, 0);
        assertEquals(0, driver.read(QUEUE_SEL));
        assertEquals(0, driver.read(QUEUE_NOTIFY));
        driver.write(MAGIC_VALUE, 0);
        driver.write(INTERRUPT_STATUS, 3);
        assertEquals(0x74726976, driver.read(MAGIC_VALUE));
    }

    @Test
    void notificationsBeforeDriverOkAreIgnored() {
        assertTrue(driver.negotiate(FeatureBits.TRANSPORT_FEATURES));
        MockSplitQueue q = driver.setupQueue(0, 64);
        q.addChain(List.of(q.writable(8)));
        driver.kick(0);
        assertEquals(0, q.usedIdx());
        driver.kick(7);
        driver.driverOk();
        driver.kick(0);
        assertEquals(1, q.usedIdx());
        driver.kick(7);
        driver.kick(-1);
    }

    @Test
    void interruptsAreRaisedAndAcknowledged() {
        List<MockSplitQueue> queues = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 64);
        MockSplitQueue q = queues.get(0);
        q.addChain(List.of(q.writable(8)));
        driver.kick(0);
        assertEquals(1, interrupts.take());
        assertEquals(INTERRUPT_USED_BUFFER, interrupts.lastStatus());
        assertEquals(INTERRUPT_USED_BUFFER, driver.acknowledgeInterrupt());
        assertEquals(0, driver.read(INTERRUPT_STATUS));
    }

    @Test
    void eventIdxSuppressesInterruptsTheDriverDidNotAskFor() {
        List<MockSplitQueue> queues = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 64);
        MockSplitQueue q = queues.get(0);
        q.setUsedEvent(2);
        for (int i = 0; i < 3; i++) {
            q.addChain(List.of(q.writable(8)));
            driver.kick(0);
        }
        // Used idx 1 (the first check always signals), 2 (no: not past used_event), 3 (yes).
        assertEquals(2, interrupts.take());
        assertEquals(3, q.usedIdx());
    }

    @Test
    void configSpaceIsReadAtAnyWidth() {
        VirtioBlk blk = new VirtioBlk(new NullBackend(1 << 20));
        MmioTransport t = new MmioTransport(blk, memory, interrupts);
        MockMmioDriver d = new MockMmioDriver(t, memory, allocator);
        assertEquals(2048, d.readConfig(0, 8));
        assertEquals(2048, d.readConfig(0, 4));
        assertEquals(0, d.readConfig(4, 4));
        assertEquals(0x08, d.readConfig(1, 1));
        assertEquals(0, d.readConfig(0xf0, 4), "beyond the configuration space");
        d.write(CONFIG, 4, 0);
        assertEquals(2048, d.readConfig(0, 8), "capacity is not writable");
        assertEquals(DeviceStatus.describe(0), "0 (reset)");
    }

    @Test
    void commandLineEntryAnnouncesTheWindow() {
        assertEquals("virtio_mmio.device=512@0xd0000000:5", MmioTransport.commandLineEntry(0xd000_0000L, 5));
    }
}
