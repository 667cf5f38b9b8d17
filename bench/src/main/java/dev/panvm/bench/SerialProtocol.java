package dev.panvm.bench;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Reading the guest's side of the bench protocol from its serial output. */
final class SerialProtocol {
    private SerialProtocol() {}

    /** Consumes output up to and including the line {@code line}; returns everything read (for errors). */
    static String awaitLine(InputStream in, String line) throws IOException {
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        ByteArrayOutputStream current = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            seen.write(b);
            if (b == '\n') {
                if (current.toString(StandardCharsets.US_ASCII).strip().equals(line)) {
                    return seen.toString(StandardCharsets.US_ASCII);
                }
                current.reset();
            } else {
                current.write(b);
            }
        }
        throw new EOFException("guest output ended before '" + line + "':\n" + seen.toString(StandardCharsets.US_ASCII));
    }

    /** Skips output until the single byte {@code expected}. */
    static void awaitByte(InputStream in, int expected) throws IOException {
        int b;
        while ((b = in.read()) >= 0) {
            if (b == expected) {
                return;
            }
        }
        throw new EOFException("guest output ended while waiting for '" + (char) expected + "'");
    }
}
