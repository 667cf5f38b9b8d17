package dev.panvm.virtio.rng;

import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.queue.BufferElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioRngTest {
    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(1 << 20);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, 1 << 20);
    private final UrandomEntropySource urandom;
    private final VirtioRng rng;
    private final MockMmioDriver driver;
    private final MockSplitQueue queue;

    VirtioRngTest() throws IOException {
        urandom = UrandomEntropySource.open();
        rng = new VirtioRng(urandom, 64);
        driver = new MockMmioDriver(new MmioTransport(rng, memory, new RecordingInterrupts()), memory, allocator);
        queue = driver.initialize(-1L, 64).getFirst();
    }

    @AfterEach
    void close() throws IOException {
        assertEquals(0, memory.rejectedSlices());
        assertEquals(0, rng.internalErrors());
        urandom.close();
        memory.close();
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    @Test
    void fillsEachBufferWithAsManyBytesAsRequested() {
        BufferElement a = queue.writable(64);
        BufferElement b = queue.writable(16);
        BufferElement c = queue.writable(4096);
        queue.addChain(List.of(a));
        queue.addChain(List.of(b, c));
        driver.kick(0);
        List<UsedElement> used = queue.takeUsed();
        assertEquals(List.of(new UsedElement(0, 64), new UsedElement(1, 16 + 4096)), used);
        assertTrue(!allZero(queue.contents(a)) && !allZero(queue.contents(c)));
        assertEquals(64 + 16 + 4096, rng.metrics().snapshot().bytes());
    }

    @Test
    void capsAbsurdRequests() {
        BufferElement huge = queue.writable(512 * 1024);
        queue.addChain(List.of(huge));
        driver.kick(0);
        assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, queue.takeUsed().getFirst().length());
    }

    @Test
    void returnsChainsWithReadableBuffersUnused() {
        queue.addChain(List.of(queue.readable(new byte[8]), queue.writable(8)));
        driver.kick(0);
        assertEquals(List.of(new UsedElement(0, 0)), queue.takeUsed());
        assertEquals(1, rng.metrics().snapshot().malformed());
    }
}
