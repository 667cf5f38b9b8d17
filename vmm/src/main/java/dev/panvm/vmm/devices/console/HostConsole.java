package dev.panvm.vmm.devices.console;

import dev.panvm.virtio.console.ConsolePort;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The host side of panvm's virtio-console port: host input waits in a bounded pipe until the
 * device has receive buffers for it, and each subclass decides where the guest's output goes and
 * where the input comes from (a Unix socket, standard input and output, or a Java program in
 * this process).
 */
public abstract sealed class HostConsole implements ConsolePort, AutoCloseable
        permits InProcessConsole, UnixSocketConsole, StdioConsole {
    /** Host input the guest has not taken yet; a host writer beyond this waits (nothing is dropped). */
    static final int INPUT_BYTES = 64 * 1024;

    private final BytePipe input = new BytePipe(INPUT_BYTES);
    private volatile Runnable inputListener = () -> { };

    /** Opens the console {@code target} names (a Unix socket is bound at once). */
    public static HostConsole open(ConsoleTarget target) throws IOException {
        return switch (target) {
            case ConsoleTarget.UnixSocket u -> UnixSocketConsole.listen(u.path());
            case ConsoleTarget.Stdio s -> new StdioConsole();
            case ConsoleTarget.InProcess p -> new InProcessConsole();
        };
    }

    /** Calls {@code listener} (the device thread's wake-up) whenever host input arrives. */
    public final void onInput(Runnable listener) {
        this.inputListener = listener;
    }

    @Override
    public final int read(MemorySegment dst) {
        return input.poll(dst);
    }

    /** Passes host input to the guest; waits while {@value #INPUT_BYTES} bytes are still untaken. */
    protected final void deliver(byte[] bytes, int offset, int length) throws IOException {
        if (length > 0) {
            input.put(bytes, offset, length);
            inputListener.run();
        }
    }

    /** Input bytes the guest has not taken yet. */
    public final int pendingInput() {
        return input.available();
    }

    /** Stops the host side: writers waiting on a full pipe fail, the guest's later output is dropped. */
    @Override
    public void close() {
        input.close();
    }
}
