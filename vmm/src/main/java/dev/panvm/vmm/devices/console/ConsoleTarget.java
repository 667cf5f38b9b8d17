package dev.panvm.vmm.devices.console;

import java.nio.file.Path;

/** Where a VM's virtio-console is connected on the host. */
public sealed interface ConsoleTarget {

    /**
     * A Unix stream socket panvm listens on at {@code path}: one client at a time; output the
     * guest writes while no client is connected waits for the next one.
     */
    record UnixSocket(Path path) implements ConsoleTarget {}

    /** panvm's own standard input and output (standard input then no longer feeds COM1). */
    record Stdio() implements ConsoleTarget {}

    /** A Java program in the same process ({@link InProcessConsole}), e.g. through a control channel. */
    record InProcess() implements ConsoleTarget {}

    /** {@code unix:PATH} or {@code stdio}, as {@code panvm run --console} takes them. */
    static ConsoleTarget parse(String value) {
        if (value.equals("stdio")) {
            return new Stdio();
        }
        if (value.startsWith("unix:") && value.length() > "unix:".length()) {
            return new UnixSocket(Path.of(value.substring("unix:".length())));
        }
        throw new IllegalArgumentException("--console must be 'unix:PATH' or 'stdio', not '" + value + "'");
    }
}
