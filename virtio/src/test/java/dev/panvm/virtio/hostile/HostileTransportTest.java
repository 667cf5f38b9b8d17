package dev.panvm.virtio.hostile;

import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.console.VirtioConsole;
import dev.panvm.virtio.mmio.MmioRegister;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.HostileGuest;
import dev.panvm.virtio.mock.InMemoryConsolePort;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.mock.SeededTries;
import dev.panvm.virtio.net.InMemoryNetBackend;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;

import static dev.panvm.virtio.mmio.MmioRegister.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Property: any sequence of register accesses (any offset, width and value, in any order, with
 * queue notifications in between) leaves the transport and device without an escaped exception
 * and without an access outside guest RAM, and the identification registers intact.
 */
class HostileTransportTest {
    private static final long RAM = 256 * 1024;
    private static final int[] REGISTERS = {
            MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, DEVICE_FEATURES_SEL, DRIVER_FEATURES,
            DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY, INTERRUPT_STATUS,
            INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH,
            QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL, SHM_LEN_LOW, QUEUE_RESET, CONFIG_GENERATION, CONFIG};

    @Test
    void randomRegisterAccesses() {
        int tries = SeededTries.run(7, 2000, Duration.ofSeconds(3), HostileTransportTest::oneGuest);
        assertTrue(tries >= 100, "only " + tries + " tries in the time budget");
    }

    private static void oneGuest(SplittableRandom random) {
        try (SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM)) {
            HostileGuest g = new HostileGuest(random, RAM);
            EntropySource source = new EntropySource() {
                @Override
                public long fill(MemorySegment dst) {
                    return dst.byteSize();
                }

                @Override
                public void close() {
                }
            };
            VirtioDeviceBase device = switch (g.between(0, 4)) {
                case 0 -> new VirtioBlk(new NullBackend(1 << 20), 16);
                case 1 -> new VirtioNet(InMemoryNetBackend.loopback(), null, 16);
                case 2 -> new VirtioConsole(consoleWithInput(g), 16);
                default -> new VirtioRng(source, 16);
            };
            MmioTransport transport = new MmioTransport(device, memory, new RecordingInterrupts());
            MockMmioDriver driver = new MockMmioDriver(transport, memory, new GuestAllocator(0x1000, RAM));
            if (g.chance(0.5)) {
                // Start from a working device half the time, so the accesses hit a running one.
                driver.initialize(-1L, 16);
            }
            for (int i = g.between(1, 60); i > 0; i--) {
                long offset = g.chance(0.85) ? REGISTERS[g.between(0, REGISTERS.length)] + (g.chance(0.1) ? g.between(0, 4) : 0)
                        : g.random().nextLong(-8, 0x300);
                int width = g.chance(0.8) ? 4 : new int[] {1, 2, 8, 3, 0}[g.between(0, 5)];
                long value = g.chance(0.5) ? g.between(0, 256) : g.random().nextLong();
                if (width == 0 || width == 3) {
                    MemorySegment odd = MemorySegment.ofArray(new byte[width]);
                    transport.read(offset, odd);
                    transport.write(offset, odd);
                } else if (g.chance(0.6)) {
                    driver.write(offset, width, value);
                } else {
                    driver.read(offset, width);
                }
                if (g.chance(0.1) && device instanceof VirtioNet net) {
                    net.receiveFromBackend();
                } else if (g.chance(0.1) && device instanceof VirtioConsole console) {
                    console.receiveFromPort();
                }
            }
            assertEquals(MmioRegister.MAGIC, driver.read(MAGIC_VALUE));
            assertEquals(device.type().id(), driver.read(DEVICE_ID));
            assertEquals(0, memory.rejectedSlices());
            assertEquals(0, device.internalErrors());
            assertEquals(0, transport.internalErrors());
        }
    }

    private static InMemoryConsolePort consoleWithInput(HostileGuest g) {
        InMemoryConsolePort port = new InMemoryConsolePort();
        port.append(new byte[g.between(0, 4096)]);
        return port;
    }
}
