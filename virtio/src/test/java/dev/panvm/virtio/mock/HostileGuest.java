package dev.panvm.virtio.mock;

import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.Descriptor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generators for what a hostile guest writes: addresses and lengths biased towards the edges of
 * guest RAM and towards overflow, descriptor flags with unknown bits, next indices off the
 * table, request headers that are almost right. Plausible values dominate, so generated chains
 * get past the queue into the device's request parsing.
 */
public final class HostileGuest {
    private final SplittableRandom r;
    private final long ramSize;

    public HostileGuest(SplittableRandom random, long ramSize) {
        this.r = random;
        this.ramSize = ramSize;
    }

    public SplittableRandom random() {
        return r;
    }

    public boolean chance(double p) {
        return r.nextDouble() < p;
    }

    public int between(int lowInclusive, int highExclusive) {
        return r.nextInt(lowInclusive, highExclusive);
    }

    /** A guest-physical address: mostly inside RAM, sometimes at its edges, sometimes absurd. */
    public long address() {
        int k = r.nextInt(100);
        if (k < 60) {
            return r.nextLong(ramSize);
        } else if (k < 72) {
            return ramSize - 64 + r.nextLong(128);
        } else if (k < 78) {
            return r.nextLong(64);
        } else if (k < 84) {
            return (1L << 32) - 8 + r.nextLong(16);
        } else if (k < 90) {
            return new long[] {-1L, Long.MAX_VALUE, Long.MIN_VALUE, -16L, Long.MAX_VALUE - 7}[r.nextInt(5)];
        }
        return r.nextLong();
    }

    /** A 32-bit length: mostly small, sometimes sector-sized, sometimes huge. */
    public long length() {
        int k = r.nextInt(100);
        if (k < 40) {
            return r.nextLong(65);
        } else if (k < 60) {
            return r.nextLong(4097);
        } else if (k < 72) {
            return 512L * r.nextLong(9);
        } else if (k < 80) {
            return new long[] {0, 1, 12, 16, 17, 20, 21}[r.nextInt(7)];
        } else if (k < 90) {
            return 0xffff_ffffL - r.nextLong(4);
        }
        return r.nextLong(1L << 32);
    }

    /** A descriptor's flags: the three known bits in any combination, sometimes unknown bits too. */
    public int flags() {
        return chance(0.9) ? r.nextInt(8) : r.nextInt(1 << 16);
    }

    /** A next index: mostly in a table of {@code size}, sometimes just past it, sometimes anything. */
    public int next(int size) {
        int k = r.nextInt(100);
        if (k < 80) {
            return r.nextInt(size);
        } else if (k < 90) {
            return size + r.nextInt(2);
        }
        return r.nextInt(1 << 16);
    }

    public Descriptor descriptor(int tableSize) {
        return new Descriptor(address(), length(), flags(), next(tableSize));
    }

    /** A descriptor a sloppy but not malicious driver might write: in RAM, known flags, next in the table. */
    public Descriptor plausibleDescriptor(int tableSize) {
        long address = r.nextLong(ramSize);
        long length = r.nextLong(Math.min(4097, ramSize - address + 1));
        int flags = new int[] {0, Descriptor.VIRTQ_DESC_F_NEXT, Descriptor.VIRTQ_DESC_F_WRITE,
                Descriptor.VIRTQ_DESC_F_NEXT | Descriptor.VIRTQ_DESC_F_WRITE}[r.nextInt(4)];
        return new Descriptor(address, length, flags, r.nextInt(tableSize));
    }

    /** Fills {@code table} (of {@code entries} descriptors) with random, mostly plausible, descriptors. */
    public void randomTable(MemorySegment table, int entries) {
        for (int i = 0; i < entries; i++) {
            (chance(0.6) ? plausibleDescriptor(entries) : descriptor(entries)).write(table, i);
        }
    }

    /** Random bytes into a segment. */
    public void randomBytes(MemorySegment s) {
        for (long i = 0; i < s.byteSize(); i++) {
            s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    /**
     * A chain the mock driver can build: buffers allocated in guest RAM (valid, in any direction
     * and order), with now and then one that points anywhere.
     */
    public List<BufferElement> chain(MockSplitQueue q, int maxElements, byte[] firstReadable) {
        List<BufferElement> out = new ArrayList<>();
        int n = between(1, maxElements + 1);
        for (int i = 0; i < n; i++) {
            if (i == 0 && firstReadable != null && chance(0.85)) {
                out.add(q.readable(firstReadable));
            } else if (chance(0.05)) {
                out.add(new BufferElement(address(), length(), r.nextBoolean()));
            } else {
                long len = chance(0.5) ? r.nextLong(2100) : new long[] {1, 12, 16, 20, 512, 1024, 1526}[r.nextInt(7)];
                boolean writable = i == n - 1 ? chance(0.85) : (i == 0 ? chance(0.15) : r.nextBoolean());
                BufferElement b = q.buffer(len, writable);
                if (!writable) {
                    randomBytesAt(q, b);
                }
                out.add(b);
            }
        }
        return out;
    }

    /** A chain for a queue of device-writable buffers (net receive, console receiveq, rng): mostly right, sometimes not. */
    public List<BufferElement> writableChain(MockSplitQueue q, int maxElements) {
        return oneWayChain(q, maxElements, true);
    }

    /** A chain for a queue of device-readable buffers (console transmitq): mostly right, sometimes not. */
    public List<BufferElement> readableChain(MockSplitQueue q, int maxElements) {
        return oneWayChain(q, maxElements, false);
    }

    private List<BufferElement> oneWayChain(MockSplitQueue q, int maxElements, boolean writable) {
        List<BufferElement> out = new ArrayList<>();
        for (int n = between(1, maxElements + 1); n > 0; n--) {
            if (chance(0.03)) {
                out.add(new BufferElement(address(), length(), r.nextBoolean()));
            } else {
                long len = chance(0.5) ? r.nextLong(2100) : new long[] {1, 12, 13, 64, 1526, 2048}[r.nextInt(6)];
                out.add(q.buffer(len, chance(0.95) == writable));
            }
        }
        return out;
    }

    private void randomBytesAt(MockSplitQueue q, BufferElement b) {
        if (b.length() > 0) {
            randomBytes(q.memory().slice(b.address(), b.length()));
        }
    }

    /** A 16-byte virtio-blk request header with a mostly-known type and a sector near {@code capacity}. */
    public byte[] blockHeader(long capacity) {
        byte[] h = new byte[16];
        MemorySegment s = MemorySegment.ofArray(h);
        long type = chance(0.9) ? new long[] {0, 1, 4, 8, 10, 11, 13, 14}[r.nextInt(8)] : r.nextLong(1L << 32);
        long sector;
        int k = r.nextInt(10);
        if (k < 5) {
            sector = r.nextLong(capacity + 1);
        } else if (k < 7) {
            sector = capacity - 2 + r.nextLong(4);
        } else if (k < 9) {
            sector = -1L - r.nextLong(4);
        } else {
            sector = r.nextLong();
        }
        LittleEndian.putU32(s, 0, type);
        LittleEndian.putU32(s, 4, r.nextInt(10) == 0 ? r.nextInt() : 0);
        LittleEndian.putU64(s, 8, sector);
        return h;
    }

    /** A discard/write-zeroes segment list appended to a header. */
    public byte[] withSegments(byte[] header, long capacity) {
        int n = between(0, 11);
        byte[] out = new byte[header.length + 16 * n + (chance(0.1) ? between(1, 16) : 0)];
        System.arraycopy(header, 0, out, 0, header.length);
        MemorySegment s = MemorySegment.ofArray(out);
        for (int i = 0; i < n; i++) {
            long at = header.length + 16L * i;
            LittleEndian.putU64(s, at, chance(0.8) ? r.nextLong(capacity + 1) : r.nextLong());
            LittleEndian.putU32(s, at + 8, chance(0.8) ? r.nextLong(64) : r.nextLong(1L << 32));
            LittleEndian.putU32(s, at + 12, chance(0.8) ? r.nextInt(2) : r.nextInt());
        }
        return out;
    }
}
