package dev.panvm.virtio.queue;

import dev.panvm.virtio.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A sequence of buffer elements read (or written) as one stream of bytes. Devices must not
 * assume any particular arrangement of descriptors (virtio 1.2, 2.7.4.1): a 16-byte block
 * request header may arrive in one element or in sixteen, so request parsing works on these
 * streams, not on individual elements.
 *
 * <p>The elements are the ones {@link Virtqueue#pop()} checked against guest memory, so
 * {@link GuestMemory#slice} on them cannot fail.
 */
public record ScatterGatherList(List<BufferElement> elements, long length) {

    public static final ScatterGatherList EMPTY = new ScatterGatherList(List.of(), 0);

    public ScatterGatherList {
        elements = List.copyOf(elements);
    }

    public static ScatterGatherList of(List<BufferElement> elements) {
        long total = 0;
        for (BufferElement e : elements) {
            total += e.length();
        }
        return new ScatterGatherList(elements, total);
    }

    public boolean isEmpty() {
        return length == 0;
    }

    /** The bytes {@code [offset, offset + count)} of the stream, as a list of (partial) elements. */
    public ScatterGatherList range(long offset, long count) {
        if (offset < 0 || count < 0 || offset > length || count > length - offset) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + count + " of " + length);
        }
        List<BufferElement> out = new ArrayList<>();
        long skip = offset;
        long want = count;
        for (BufferElement e : elements) {
            if (want == 0) {
                break;
            }
            if (skip >= e.length()) {
                skip -= e.length();
                continue;
            }
            long take = Math.min(e.length() - skip, want);
            out.add(new BufferElement(e.address() + skip, take, e.writable()));
            skip = 0;
            want -= take;
        }
        return new ScatterGatherList(out, count);
    }

    /** The stream without its first {@code count} bytes. */
    public ScatterGatherList skip(long count) {
        return range(count, length - count);
    }

    /** The first {@code count} bytes of the stream. */
    public ScatterGatherList first(long count) {
        return range(0, count);
    }

    /** The host memory behind each element, in order. */
    public List<MemorySegment> segments(GuestMemory memory) {
        List<MemorySegment> out = new ArrayList<>(elements.size());
        for (BufferElement e : elements) {
            out.add(memory.slice(e.address(), e.length()));
        }
        return out;
    }

    /** Copies the first {@code dst.byteSize()} bytes of the stream into {@code dst}. */
    public void copyTo(GuestMemory memory, MemorySegment dst) {
        long want = dst.byteSize();
        if (want > length) {
            throw new IndexOutOfBoundsException(want + " bytes from a list of " + length);
        }
        long done = 0;
        for (BufferElement e : elements) {
            if (done == want) {
                break;
            }
            long n = Math.min(e.length(), want - done);
            MemorySegment.copy(memory.slice(e.address(), n), 0, dst, done, n);
            done += n;
        }
    }

    /** Copies {@code src} into the first {@code src.byteSize()} bytes of the stream. */
    public void copyFrom(GuestMemory memory, MemorySegment src) {
        long want = src.byteSize();
        if (want > length) {
            throw new IndexOutOfBoundsException(want + " bytes into a list of " + length);
        }
        long done = 0;
        for (BufferElement e : elements) {
            if (done == want) {
                break;
            }
            long n = Math.min(e.length(), want - done);
            MemorySegment.copy(src, done, memory.slice(e.address(), n), 0, n);
            done += n;
        }
    }
}
