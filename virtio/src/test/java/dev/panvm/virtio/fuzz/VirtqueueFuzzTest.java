package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.Descriptor;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.PopResult;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueueError.ChainError;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;
import dev.panvm.virtio.queue.VirtqueuePart;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The split virtqueue and descriptor-chain parser ({@link Virtqueue}, DescriptorChainReader)
 * against a reference model written from the spec's rules (2.7): a queue set up from the
 * input (size, ring addresses anywhere, EVENT_IDX and INDIRECT_DESC on or off), its descriptor
 * table, available ring and indirect tables filled from the input, then a fuzzed sequence of
 * pop, undoPop, addUsed, hasAvailable, enable/disable/needsNotification and guest writes to
 * rings, descriptors and tables between them.
 *
 * <p>Oracles: activation succeeds exactly when the size and the three rings are valid; every
 * pop agrees with the model (nothing, a queue error that then sticks, a chain error for the right
 * head, or a chain with exactly the model's elements); the model accepts a chain exactly when it
 * follows next indices inside its table without revisiting a descriptor, puts at most one
 * indirect table (negotiated, not nested, without NEXT, a whole number of descriptors in RAM)
 * at its end, has no device-readable element after a device-writable one, lies in RAM, adds up
 * to at most 2^32 bytes and holds at most Queue Size elements. Plus the common ones: no
 * exception, no slice outside RAM, every call within its step and time budget. And
 * {@link Virtqueue#findOverlap} agrees with an interval check on two activated queues.
 */
class VirtqueueFuzzTest {
    private static final FuzzMemory MEMORY = new FuzzMemory();
    private static final long[] DESC = {0x800, 0xc00};
    private static final long[] AVAIL = {0x900, 0xd00};
    private static final long[] USED = {0xa00, 0xe00};
    private static final int MAX_OPS = 64;

    /** What the driver wrote through the transport. */
    private record Setup(int size, long desc, long avail, long used) {
        boolean valid(int maxSize) {
            return size >= 1 && size <= maxSize && Integer.bitCount(size) == 1
                    && part(desc, VirtqueuePart.DESCRIPTOR_TABLE) && part(avail, VirtqueuePart.AVAILABLE_RING)
                    && part(used, VirtqueuePart.USED_RING);
        }

        private boolean part(long address, VirtqueuePart part) {
            return MEMORY.inRam(address, part.size(size)) && address % part.alignment() == 0;
        }
    }

    @FuzzTest
    void descriptorChains(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> run(in));
    }

    private static void run(FuzzedDataProvider in) {
        MEMORY.clear();
        long rejected = MEMORY.rejectedSlices();
        int maxSize = in.consumeInt(0, 3) == 0 ? in.pickValue(new int[] {1, 2, 4, 8}) : 16;
        boolean indirect = in.consumeBoolean();
        long features = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1)
                | (in.consumeBoolean() ? FeatureBits.bit(FeatureBits.VIRTIO_F_EVENT_IDX) : 0)
                | (indirect ? FeatureBits.bit(FeatureBits.VIRTIO_F_INDIRECT_DESC) : 0);
        Virtqueue q = new Virtqueue(maxSize);
        Setup setup = setup(in, q, maxSize, 0);
        fillGuestMemory(in);

        Optional<QueueError> error = Liveness.entry(MEMORY, "activate", () -> q.activate(MEMORY, features));
        assertEquals(setup.valid(maxSize), error.isEmpty(), "activation of " + setup + ": " + error);
        Model model = new Model(setup, indirect, error.isPresent());

        List<Integer> popped = new ArrayList<>();
        boolean lastPopWasChain = false;
        for (int op = 0; op < MAX_OPS && in.remainingBytes() > 0; op++) {
            int kind = in.consumeInt(0, 10);
            switch (kind) {
                case 0, 1, 2, 3 -> {
                    Object expected = model.pop();
                    PopResult actual = Liveness.entry(MEMORY, "pop", q::pop);
                    compare(expected, actual);
                    lastPopWasChain = actual instanceof DescriptorChain;
                    if (actual instanceof DescriptorChain c) {
                        popped.add(c.headIndex());
                    }
                    if (actual instanceof QueueError) {
                        assertFalse(q.isActive(), "a queue error left the queue active");
                    }
                }
                case 4 -> {
                    if (lastPopWasChain) {
                        q.undoPop();
                        model.next = (model.next - 1) & 0xffff;
                        popped.removeLast();
                        lastPopWasChain = false;
                    }
                }
                case 5 -> assertEquals(model.hasAvailable(), (boolean) Liveness.entry(MEMORY, "hasAvailable", q::hasAvailable), "hasAvailable");
                case 6 -> {
                    Liveness.entry(MEMORY, "disableNotification", q::disableNotification);
                    boolean more = Liveness.entry(MEMORY, "enableNotification", q::enableNotification);
                    // The re-check reads the ring after the device's own write, which may alias it.
                    assertEquals(model.hasAvailable(), more, "enableNotification");
                }
                case 7 -> Liveness.entry(MEMORY, "needsNotification", q::needsNotification);
                case 8 -> {
                    if (!popped.isEmpty() && q.isActive()) {
                        int head = popped.get(in.consumeInt(0, popped.size() - 1));
                        long length = in.consumeLong(0, 0xffff_ffffL);
                        Liveness.entry(MEMORY, "addUsed", () -> q.addUsed(head, length));
                    }
                }
                default -> scribble(in);
            }
            assertEquals(rejected, MEMORY.rejectedSlices(), "a slice outside guest RAM");
        }

        // Two queues of one device: the transport refuses a used ring over any ring (2.7).
        Virtqueue other = new Virtqueue(maxSize);
        Setup second = setup(in, other, maxSize, 1);
        if (error.isEmpty() && other.activate(MEMORY, features).isEmpty()) {
            boolean expected = overlaps(setup, setup, true) || overlaps(setup, second, false)
                    || overlaps(second, setup, false) || overlaps(second, second, true);
            assertEquals(expected, Virtqueue.findOverlap(List.of(q, other)).isPresent(), "findOverlap of " + setup + " and " + second);
        }
        assertEquals(rejected, MEMORY.rejectedSlices(), "a slice outside guest RAM");
    }

    /** Whether {@code a}'s used ring overlaps any ring of {@code b} (its own used ring not counted when {@code same}). */
    private static boolean overlaps(Setup a, Setup b, boolean same) {
        long usedEnd = a.used() + VirtqueuePart.USED_RING.size(a.size());
        long[][] parts = {
                {b.desc(), VirtqueuePart.DESCRIPTOR_TABLE.size(b.size())},
                {b.avail(), VirtqueuePart.AVAILABLE_RING.size(b.size())},
                {b.used(), same ? 0 : VirtqueuePart.USED_RING.size(b.size())}};
        for (long[] p : parts) {
            if (p[1] > 0 && p[0] < usedEnd && a.used() < p[0] + p[1]) {
                return true;
            }
        }
        return false;
    }

    private static Setup setup(FuzzedDataProvider in, Virtqueue q, int maxSize, int slot) {
        int size = switch (in.consumeInt(0, 7)) {
            case 0 -> in.consumeInt(-2, 40);
            case 1 -> in.consumeInt();
            default -> Math.max(1, maxSize >> in.consumeInt(0, 2));
        };
        long desc = in.consumeInt(0, 7) == 0 ? FuzzDriver.address(in) : DESC[slot];
        long avail = in.consumeInt(0, 7) == 0 ? FuzzDriver.address(in) : AVAIL[slot];
        long used = in.consumeInt(0, 7) == 0 ? FuzzDriver.address(in) : USED[slot];
        q.setSize(size);
        q.setDescriptorTableAddress(desc);
        q.setAvailableRingAddress(avail);
        q.setUsedRingAddress(used);
        q.setReady(true);
        return new Setup(size, desc, avail, used);
    }

    /** The standard descriptor table and available ring, and a few indirect tables, from the input. */
    private static void fillGuestMemory(FuzzedDataProvider in) {
        var table = MEMORY.driver(DESC[0], 16L * 16);
        for (int i = 0, n = in.consumeInt(0, 16); i < n; i++) {
            descriptor(in, 16).write(table, i);
        }
        var avail = MEMORY.driver(AVAIL[0], 6 + 2L * 16);
        LittleEndian.putU16(avail, 2, in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, 20));
        for (int i = 0, n = in.consumeInt(0, 16); i < n; i++) {
            LittleEndian.putU16(avail, 4 + 2L * i, in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, 17));
        }
        for (int t = in.consumeInt(0, 3); t > 0; t--) {
            long at = FuzzDriver.BUFFERS + 16L * in.consumeInt(0, 64);
            int entries = in.consumeInt(1, 8);
            var it = MEMORY.driver(at, 16L * entries);
            for (int i = 0; i < entries; i++) {
                descriptor(in, entries).write(it, i);
            }
        }
    }

    private static Descriptor descriptor(FuzzedDataProvider in, int tableSize) {
        long address = switch (in.consumeInt(0, 3)) {
            case 0 -> FuzzDriver.address(in);
            case 1 -> FuzzDriver.BUFFERS + 16L * in.consumeInt(0, 64); // where indirect tables go
            default -> FuzzDriver.BUFFERS + in.consumeInt(0, 0x8000);
        };
        long length = in.consumeInt(0, 3) == 0 ? 16L * in.consumeInt(0, 9) : FuzzDriver.length(in);
        int flags = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, 7);
        int next = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, tableSize + 1);
        return new Descriptor(address, length, flags, next);
    }

    /** Guest writes between the device's calls: descriptors, ring fields, indirect tables, anything. */
    private static void scribble(FuzzedDataProvider in) {
        switch (in.consumeInt(0, 4)) {
            case 0 -> descriptor(in, 16).write(MEMORY.driver(DESC[0], 16L * 16), in.consumeInt(0, 15));
            case 1 -> LittleEndian.putU16(MEMORY.driver(AVAIL[0], 4), 2, in.consumeInt(0, 3) == 0
                    ? in.consumeInt(0, 0xffff) : LittleEndian.u16(MEMORY.driver(AVAIL[0], 4), 2) + in.consumeInt(-1, 17));
            case 2 -> LittleEndian.putU16(MEMORY.driver(AVAIL[0], 6 + 2L * 16), 4 + 2L * in.consumeInt(0, 16),
                    in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0xffff) : in.consumeInt(0, 17));
            case 3 -> descriptor(in, 8).write(MEMORY.driver(FuzzDriver.BUFFERS, 16L * 80), in.consumeInt(0, 79));
            default -> MEMORY.driverWrite(FuzzDriver.address(in), in.consumeBytes(in.consumeInt(1, 16)));
        }
    }

    // ---- the reference model ----

    private record Empty() {
    }

    private record QueueBroken() {
    }

    private record BadChain(int head, String why) {
    }

    private record Chain(int head, List<BufferElement> elements) {
    }

    private static void compare(Object expected, PopResult actual) {
        switch (expected) {
            case Empty e -> assertTrue(actual instanceof PopResult.Empty, "expected nothing, got " + actual);
            case QueueBroken b -> assertTrue(actual instanceof QueueError, "expected a queue error, got " + actual);
            case BadChain b -> {
                if (!(actual instanceof ChainError e) || e.headIndex() != b.head()) {
                    fail("expected a chain error for head " + b.head() + " (" + b.why() + "), got " + actual);
                }
            }
            case Chain c -> {
                if (!(actual instanceof DescriptorChain d) || d.headIndex() != c.head() || !d.elements().equals(c.elements())) {
                    fail("expected chain " + c + ", got " + actual);
                }
            }
            default -> fail("model returned " + expected);
        }
    }

    /** The device side of a split virtqueue as 2.7 describes it, reading the same guest memory. */
    private static final class Model {
        private final Setup setup;
        private final boolean indirect;
        private boolean broken;
        int next;

        Model(Setup setup, boolean indirect, boolean broken) {
            this.setup = setup;
            this.indirect = indirect;
            this.broken = broken;
        }

        private int u16(long gpa) {
            return LittleEndian.u16(MEMORY.driver(gpa, 2), 0);
        }

        /** Chains waiting, or -1 (and broken from now on) when the avail idx is more than a ring ahead. */
        private int pending() {
            int p = (u16(setup.avail() + 2) - next) & 0xffff;
            if (p > setup.size()) {
                broken = true;
                return -1;
            }
            return p;
        }

        boolean hasAvailable() {
            return !broken && pending() != 0;
        }

        Object pop() {
            if (broken) {
                return new QueueBroken();
            }
            int p = pending();
            if (p < 0) {
                return new QueueBroken();
            }
            if (p == 0) {
                return new Empty();
            }
            int head = u16(setup.avail() + 4 + 2L * (next % setup.size()));
            if (head >= setup.size()) {
                broken = true;
                return new QueueBroken();
            }
            next = (next + 1) & 0xffff;
            return walk(head);
        }

        private Object walk(int head) {
            List<BufferElement> elements = new ArrayList<>();
            long table = setup.desc();
            long tableSize = setup.size();
            boolean inIndirect = false;
            BitSet seen = new BitSet();
            long total = 0;
            boolean seenWritable = false;
            int index = head;
            while (true) {
                if (index >= tableSize) {
                    return new BadChain(head, "index " + index + " outside its table");
                }
                if (seen.get(index)) {
                    return new BadChain(head, "descriptor " + index + " visited twice");
                }
                seen.set(index);
                var d = MEMORY.driver(table + 16L * index, 16);
                long address = LittleEndian.u64(d, 0);
                long length = LittleEndian.u32(d, 8);
                int flags = LittleEndian.u16(d, 12);
                int next = LittleEndian.u16(d, 14);
                if ((flags & Descriptor.VIRTQ_DESC_F_INDIRECT) != 0) {
                    if (!indirect || inIndirect || (flags & Descriptor.VIRTQ_DESC_F_NEXT) != 0 || length == 0
                            || length % 16 != 0 || length / 16 > 65536 || !MEMORY.inRam(address, length)) {
                        return new BadChain(head, "bad indirect descriptor");
                    }
                    table = address;
                    tableSize = length / 16;
                    inIndirect = true;
                    seen = new BitSet();
                    index = 0;
                    continue;
                }
                boolean writable = (flags & Descriptor.VIRTQ_DESC_F_WRITE) != 0;
                if (!writable && seenWritable) {
                    return new BadChain(head, "readable after writable");
                }
                seenWritable |= writable;
                if (!MEMORY.inRam(address, length)) {
                    return new BadChain(head, "buffer outside RAM");
                }
                total += length;
                if (total > 1L << 32) {
                    return new BadChain(head, "more than 2^32 bytes");
                }
                elements.add(new BufferElement(address, length, writable));
                if (elements.size() > setup.size()) {
                    return new BadChain(head, "longer than the queue");
                }
                if ((flags & Descriptor.VIRTQ_DESC_F_NEXT) == 0) {
                    return new Chain(head, elements);
                }
                index = next;
            }
        }
    }
}
