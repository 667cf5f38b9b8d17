package dev.panvm.vmm.devices.console;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host sides of panvm's console: nothing lost, flow control instead of drops, clean closing. */
class HostConsoleTest {
    @TempDir
    Path dir;

    private static MemorySegment bytes(String s) {
        return MemorySegment.ofArray(s.getBytes(StandardCharsets.UTF_8));
    }

    /** What the device would take now, as text. */
    private static String take(HostConsole c, int max) {
        MemorySegment dst = Arena.ofAuto().allocate(max);
        int n = c.read(dst);
        return new String(dst.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
    }

    @Test
    void inProcessInputReachesTheDeviceInPiecesAndWakesIt() throws Exception {
        InProcessConsole c = (InProcessConsole) HostConsole.open(new ConsoleTarget.InProcess());
        AtomicInteger wakeups = new AtomicInteger();
        c.onInput(wakeups::incrementAndGet);
        assertEquals("", take(c, 16));
        c.toGuest().write("run pipe ops=10\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(1, wakeups.get());
        assertEquals("run pip", take(c, 7));
        assertEquals("e ops=10\n", take(c, 64));
        assertEquals(0, c.pendingInput());
        c.close();
    }

    @Test
    void inProcessOutputIsReadInOrderAndEndsAtClose() throws Exception {
        InProcessConsole c = (InProcessConsole) HostConsole.open(new ConsoleTarget.InProcess());
        c.write(bytes("{\"ctl\":"));
        c.write(bytes("\"ready\"}\n"));
        c.close();
        assertEquals("{\"ctl\":\"ready\"}\n", new String(c.fromGuest().readAllBytes(), StandardCharsets.UTF_8));
        assertThrows(IOException.class, () -> c.write(bytes("late")));
    }

    @Test
    void aHostWriterWaitsWhileTheGuestTakesNothing() throws Exception {
        InProcessConsole c = (InProcessConsole) HostConsole.open(new ConsoleTarget.InProcess());
        byte[] big = new byte[HostConsole.INPUT_BYTES + 100];
        CountDownLatch written = new CountDownLatch(1);
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                c.toGuest().write(big);
                written.countDown();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertFalse(written.await(200, TimeUnit.MILLISECONDS), "the writer should wait for room");
        assertEquals(HostConsole.INPUT_BYTES, c.pendingInput());
        assertEquals(4096, take(c, 4096).length());
        assertTrue(written.await(5, TimeUnit.SECONDS));
        writer.join();
        assertEquals(HostConsole.INPUT_BYTES + 100 - 4096, c.pendingInput());
        c.close();
    }

    private SocketChannel connect(Path socket) throws IOException {
        SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX);
        s.connect(UnixDomainSocketAddress.of(socket));
        return s;
    }

    private static String readLine(SocketChannel s) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1);
        StringBuilder line = new StringBuilder();
        while (s.read(b.clear()) == 1 && b.get(0) != '\n') {
            line.append((char) b.get(0));
        }
        return line.toString();
    }

    @Test
    void unixSocketKeepsOutputForTheNextClientAndPassesInput() throws Exception {
        Path socket = dir.resolve("console.sock");
        HostConsole c = HostConsole.open(new ConsoleTarget.UnixSocket(socket));
        c.write(bytes("before anyone connected\n"));
        try (SocketChannel first = connect(socket)) {
            assertEquals("before anyone connected", readLine(first));
            first.write(ByteBuffer.wrap("stats\n".getBytes(StandardCharsets.UTF_8)));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (c.pendingInput() < 6 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals("stats\n", take(c, 64));
        }
        c.write(bytes("after the first left\n"));
        try (SocketChannel second = connect(socket)) {
            assertEquals("after the first left", readLine(second));
        }
        c.close();
        assertFalse(Files.exists(socket), "the socket file is removed at close");
    }

    @Test
    void unixSocketRefusesAnExistingPath() throws Exception {
        Path taken = Files.createFile(dir.resolve("taken"));
        IOException e = assertThrows(IOException.class, () -> HostConsole.open(new ConsoleTarget.UnixSocket(taken)));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertTrue(Files.exists(taken), "an existing file is left alone");
    }

    /** A socket file nobody listens on (what a sandboxed run leaves) is replaced; a live one is not. */
    @Test
    void unixSocketReplacesAStaleSocketButNotALiveOne() throws Exception {
        Path socket = dir.resolve("stale.sock");
        try (java.nio.channels.ServerSocketChannel old = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            old.bind(UnixDomainSocketAddress.of(socket));
            IOException e = assertThrows(IOException.class, () -> HostConsole.open(new ConsoleTarget.UnixSocket(socket)));
            assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        }
        assertTrue(Files.exists(socket), "closing a channel leaves its socket file");
        HostConsole c = HostConsole.open(new ConsoleTarget.UnixSocket(socket));
        c.write(bytes("served on the old path\n"));
        try (SocketChannel client = connect(socket)) {
            assertEquals("served on the old path", readLine(client));
        }
        c.close();
    }

    @Test
    void closeWakesADeviceWaitingToWrite() throws Exception {
        HostConsole c = HostConsole.open(new ConsoleTarget.UnixSocket(dir.resolve("s")));
        // More than the pipe and the chunk the output thread holds while it waits for a client.
        MemorySegment chunk = MemorySegment.ofArray(new byte[2 * UnixSocketConsole.PENDING_BYTES]);
        Thread device = Thread.ofPlatform().start(() -> assertThrows(IOException.class, () -> c.write(chunk)));
        Thread.sleep(100);
        assertTrue(device.isAlive(), "with nobody connected the output pipe fills and the device waits");
        c.close();
        device.join(5000);
        assertFalse(device.isAlive());
    }

    @Test
    void consoleTargetsParse() {
        assertEquals(new ConsoleTarget.Stdio(), ConsoleTarget.parse("stdio"));
        assertEquals(new ConsoleTarget.UnixSocket(Path.of("/tmp/x.sock")), ConsoleTarget.parse("unix:/tmp/x.sock"));
        assertThrows(IllegalArgumentException.class, () -> ConsoleTarget.parse("unix:"));
        assertThrows(IllegalArgumentException.class, () -> ConsoleTarget.parse("tcp:1234"));
    }

    @Test
    void inputStreamReadsSingleBytes() throws Exception {
        InProcessConsole c = (InProcessConsole) HostConsole.open(new ConsoleTarget.InProcess());
        c.write(bytes("ok"));
        InputStream in = c.fromGuest();
        assertEquals('o', in.read());
        assertEquals('k', in.read());
        c.close();
        assertEquals(-1, in.read());
    }
}
