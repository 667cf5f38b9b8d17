package dev.panvm.vmm.devices.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;

/**
 * A console connected to a Java program in the same process: the guest's output is read from
 * {@link #fromGuest()}, input is written to {@link #toGuest()}. The output pipe holds
 * {@value #OUTPUT_BYTES} bytes; beyond that the guest's transmit queue waits for the reader.
 */
public final class InProcessConsole extends HostConsole {
    static final int OUTPUT_BYTES = 1 << 20;

    private final BytePipe output = new BytePipe(OUTPUT_BYTES);

    InProcessConsole() {
    }

    @Override
    public void write(MemorySegment src) throws IOException {
        output.put(src);
    }

    /** The guest's output; ends (read returns -1) after {@link #close}. */
    public InputStream fromGuest() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : Byte.toUnsignedInt(one[0]);
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : output.take(b, off, len);
            }
        };
    }

    /** Input for the guest; a write waits while the guest has not taken earlier input. */
    public OutputStream toGuest() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                deliver(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                deliver(b, off, len);
            }
        };
    }

    @Override
    public void close() {
        super.close();
        output.close();
    }
}
