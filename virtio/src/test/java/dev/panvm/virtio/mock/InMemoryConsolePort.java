package dev.panvm.virtio.mock;

import dev.panvm.virtio.console.ConsolePort;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The host side of a console port in plain memory: bytes {@link #append appended} are the
 * guest's input, what the guest writes is kept for {@link #takeOutput}. A port can hand out its
 * input in small pieces, as a socket does when the data arrives that way, and a failing port
 * throws {@link IOException} from both directions, as a closed socket would. Copies into arrays:
 * a test fixture, not a data path.
 */
public final class InMemoryConsolePort implements ConsolePort {
    private byte[] input = new byte[0];
    private int inputStart;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private int writeCalls;
    private int maxRead = Integer.MAX_VALUE;
    private boolean failing;

    /** Queues {@code bytes} as input for the guest, after what is already waiting. */
    public synchronized void append(byte[] bytes) {
        byte[] waiting = Arrays.copyOfRange(input, inputStart, input.length);
        input = Arrays.copyOf(waiting, waiting.length + bytes.length);
        System.arraycopy(bytes, 0, input, waiting.length, bytes.length);
        inputStart = 0;
    }

    /** How many input bytes the device has not read yet. */
    public synchronized int pending() {
        return input.length - inputStart;
    }

    /** What the guest wrote since the last call. */
    public synchronized byte[] takeOutput() {
        byte[] out = output.toByteArray();
        output.reset();
        return out;
    }

    /** How many times the device called {@link #write}. */
    public synchronized int writeCalls() {
        return writeCalls;
    }

    /** Makes each {@link #read} return at most {@code bytes}, however much input waits. */
    public synchronized void setMaxRead(int bytes) {
        this.maxRead = bytes;
    }

    /** Makes every read and write from now on fail (or work again). */
    public synchronized void setFailing(boolean failing) {
        this.failing = failing;
    }

    @Override
    public synchronized int read(MemorySegment dst) throws IOException {
        if (failing) {
            throw new IOException("port closed");
        }
        int n = (int) Math.min(Math.min(pending(), maxRead), dst.byteSize());
        MemorySegment.copy(MemorySegment.ofArray(input), inputStart, dst, 0, n);
        inputStart += n;
        return n;
    }

    @Override
    public synchronized void write(MemorySegment src) throws IOException {
        writeCalls++;
        if (failing) {
            throw new IOException("port closed");
        }
        output.writeBytes(src.toArray(ValueLayout.JAVA_BYTE));
    }
}
