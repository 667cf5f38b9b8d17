package dev.panvm.vmm.devices.console;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A bounded byte queue between threads: writers wait while it is full (so a fast producer is
 * held back instead of losing bytes), readers either wait for bytes ({@link #take}) or take
 * what is there ({@link #poll}, for a device thread that must never block). {@link #close}
 * wakes everybody: writers then fail, readers drain what is left and then see the end.
 */
final class BytePipe {
    private final byte[] ring;
    private int head;
    private int count;
    private boolean closed;

    BytePipe(int capacity) {
        this.ring = new byte[capacity];
    }

    /** Appends all of {@code src[offset, offset + length)}, waiting for room as needed. */
    synchronized void put(byte[] src, int offset, int length) throws IOException {
        int done = 0;
        while (done < length) {
            int n = awaitRoom(length - done);
            int tail = (head + count) % ring.length;
            int first = Math.min(n, ring.length - tail);
            System.arraycopy(src, offset + done, ring, tail, first);
            System.arraycopy(src, offset + done + first, ring, 0, n - first);
            count += n;
            done += n;
            notifyAll();
        }
    }

    /** Appends all of {@code src}, waiting for room as needed. */
    synchronized void put(MemorySegment src) throws IOException {
        long done = 0;
        while (done < src.byteSize()) {
            int n = awaitRoom(src.byteSize() - done);
            int tail = (head + count) % ring.length;
            int first = Math.min(n, ring.length - tail);
            MemorySegment.copy(src, JAVA_BYTE, done, ring, tail, first);
            MemorySegment.copy(src, JAVA_BYTE, done + first, ring, 0, n - first);
            count += n;
            done += n;
            notifyAll();
        }
    }

    /** Waits until there is room (or fails when closed); returns how much of {@code wanted} fits now. */
    private int awaitRoom(long wanted) throws IOException {
        try {
            while (!closed && count == ring.length) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the console pipe was full");
        }
        if (closed) {
            throw new IOException("console closed");
        }
        return (int) Math.min(wanted, ring.length - count);
    }

    /** Copies up to {@code dst.byteSize()} waiting bytes into {@code dst}; 0 when none wait. Never blocks. */
    synchronized int poll(MemorySegment dst) {
        int n = (int) Math.min(dst.byteSize(), count);
        int first = Math.min(n, ring.length - head);
        MemorySegment.copy(ring, head, dst, JAVA_BYTE, 0, first);
        MemorySegment.copy(ring, 0, dst, JAVA_BYTE, first, n - first);
        consumed(n);
        return n;
    }

    /**
     * Waits for at least one byte and copies up to {@code length} into {@code dst}; returns -1
     * once the pipe is closed and empty.
     */
    synchronized int take(byte[] dst, int offset, int length) throws InterruptedIOException {
        try {
            while (count == 0 && !closed) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for console bytes");
        }
        if (count == 0) {
            return -1;
        }
        int n = Math.min(length, count);
        int first = Math.min(n, ring.length - head);
        System.arraycopy(ring, head, dst, offset, first);
        System.arraycopy(ring, 0, dst, offset + first, n - first);
        consumed(n);
        return n;
    }

    private void consumed(int n) {
        head = (head + n) % ring.length;
        count -= n;
        if (n > 0) {
            notifyAll();
        }
    }

    /** Bytes waiting. */
    synchronized int available() {
        return count;
    }

    synchronized void close() {
        closed = true;
        notifyAll();
    }
}
