package dev.panvm.vmm.api;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A serial-console target ({@link dev.panvm.vmm.MachineConfig.Builder#serialOut}) that keeps only the guest's
 * last 16 KiB of output, so a long-lived VM's error messages can quote how the guest ended
 * without the console growing for hours.
 */
public final class SerialTail extends OutputStream {
    private static final int KEEP = 16 * 1024;
    private final StringBuilder text = new StringBuilder();

    @Override
    public synchronized void write(int b) {
        text.append((char) (b & 0xff));
        trim();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        text.append(new String(b, off, len, StandardCharsets.UTF_8));
        trim();
    }

    private void trim() {
        if (text.length() > 2 * KEEP) {
            text.delete(0, text.length() - KEEP);
        }
    }

    /** The kept output: at most the last 16 KiB (up to twice that between trims). */
    @Override
    public synchronized String toString() {
        return text.length() > KEEP ? text.substring(text.length() - KEEP) : text.toString();
    }
}
