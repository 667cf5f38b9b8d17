package dev.panvm.vmm.devices.console;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/** A console on panvm's standard input and output ({@code --console stdio}). */
final class StdioConsole extends HostConsole {
    private final OutputStream out = new FileOutputStream(FileDescriptor.out);

    StdioConsole() {
        InputStream in = System.in;
        Thread.ofPlatform().name("console-stdin").daemon().start(() -> {
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    deliver(buf, 0, n);
                }
            } catch (IOException e) {
                // standard input closed, or the console was: no more input
            }
        });
    }

    @Override
    public synchronized void write(MemorySegment src) throws IOException {
        out.write(src.toArray(JAVA_BYTE));
        out.flush();
    }
}
