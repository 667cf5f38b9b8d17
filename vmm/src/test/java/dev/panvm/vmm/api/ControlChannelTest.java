package dev.panvm.vmm.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host side of the control protocol against a scripted guest on two pipes. */
class ControlChannelTest {
    private static final Duration SHORT = Duration.ofMillis(200);
    private static final Duration LONG = Duration.ofSeconds(10);

    private final Pipe toHost;
    private final Pipe toGuest;
    private final ControlChannel channel;

    ControlChannelTest() throws IOException {
        toHost = Pipe.open();
        toGuest = Pipe.open();
        channel = new ControlChannel("test", toHost.source(), toGuest.sink(), () -> "the guest went away", () -> { });
    }

    @AfterEach
    void close() throws IOException {
        channel.close();
        toHost.sink().close();
    }

    private void guestSays(String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            toHost.sink().write(b);
        }
    }

    private String guestReads() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096);
        StringBuilder s = new StringBuilder();
        while (s.indexOf("\n") < 0) {
            b.clear();
            toGuest.source().read(b);
            s.append(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8));
        }
        return s.toString();
    }

    @Test
    void sendsOneLineAndReturnsTheAnswer() throws Exception {
        guestSays("{\"ctl\":\"ready\"}\r\n");
        channel.awaitReady(LONG);
        guestSays("{\"workload\":\"pipe\",\"ops\":10,\"ns_per_op\":250.5}\n");
        ObjectNode answer = channel.run("pipe", " ops=10 ", LONG);
        assertEquals("run pipe ops=10\n", guestReads());
        assertEquals(250.5, answer.get("ns_per_op").asDouble());
    }

    @Test
    void anErrorAnswerIsAnExceptionAndTheChannelStaysUsable() throws Exception {
        guestSays("{\"error\":\"unknown workload \\\"nope\\\"\"}\n{\"stats\":{\"tasks\":3}}\n");
        GuestCommandException e = assertThrows(GuestCommandException.class, () -> channel.run("nope", "", LONG));
        assertEquals("run nope: unknown workload \"nope\"", e.getMessage());
        assertEquals(3, channel.send("stats", LONG).path("stats").path("tasks").asInt());
    }

    @Test
    void aTimeoutLeavesTheChannelOutOfStep() throws Exception {
        assertThrows(TimeoutException.class, () -> channel.send("stats", SHORT));
        guestSays("{\"stats\":{}}\n");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("no answer within"), e.getMessage());
    }

    @Test
    void theEndOfTheGuestsOutputSaysWhy() throws Exception {
        toHost.sink().close();
        IOException e = assertThrows(IOException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("the guest went away"), e.getMessage());
        // and so does every later command
        e = assertThrows(IOException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("the guest went away"), e.getMessage());
    }

    @Test
    void aMalformedAnswerBreaksTheProtocol() throws Exception {
        guestSays("ferrite says hello\n");
        IOException e = assertThrows(IOException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("malformed answer"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> channel.send("stats", LONG));
    }

    @Test
    void duplicateKeysAndTrailingDataAreMalformed() throws Exception {
        guestSays("{\"a\":1,\"a\":2}\n");
        assertThrows(IOException.class, () -> channel.send("stats", LONG));
    }

    @Test
    void aNonObjectAnswerIsRefused() throws Exception {
        guestSays("[1,2]\n");
        IOException e = assertThrows(IOException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("one JSON object"), e.getMessage());
    }

    @Test
    void theReadyLineMustComeFirst() throws Exception {
        guestSays("{\"workload\":\"pipe\"}\n");
        assertThrows(IOException.class, () -> channel.awaitReady(LONG));
    }

    @Test
    void anOverlongAnswerEndsTheChannel() throws Exception {
        // From another thread: the pipe holds less than the line, and the reader stops taking it.
        Thread.ofPlatform().daemon().start(() -> {
            try {
                guestSays("{\"x\":\"" + "y".repeat(ControlChannel.MAX_LINE) + "\"}\n");
            } catch (IOException e) {
                // the test closed the pipe
            }
        });
        IOException e = assertThrows(IOException.class, () -> channel.send("stats", LONG));
        assertTrue(e.getMessage().contains("longer than"), e.getMessage());
    }

    @Test
    void commandsAreOneLine() {
        assertThrows(IllegalArgumentException.class, () -> channel.send("stats\nexit", LONG));
        assertThrows(IllegalArgumentException.class, () -> channel.send(" ", LONG));
    }

    @Test
    void overStreamsFlushesEachCommand() throws Exception {
        java.io.PipedInputStream guestIn = new java.io.PipedInputStream();
        java.io.OutputStream buffered = new java.io.BufferedOutputStream(new java.io.PipedOutputStream(guestIn), 8192);
        java.io.PipedOutputStream guestOut = new java.io.PipedOutputStream();
        try (ControlChannel c = ControlChannel.overStreams("streams", new java.io.PipedInputStream(guestOut),
                buffered, () -> "gone", () -> { })) {
            guestOut.write("{\"sysctl\":\"sched_nr_migrate\",\"value\":32}\n".getBytes(StandardCharsets.UTF_8));
            guestOut.flush();
            assertEquals(32, c.send("sysctl sched_nr_migrate", LONG).path("value").asInt());
            byte[] sent = new byte["sysctl sched_nr_migrate\n".length()];
            assertEquals(sent.length, guestIn.readNBytes(sent, 0, sent.length), "the command reached the guest unbuffered");
        }
    }

    @Test
    void exitChecksTheConfirmation() throws Exception {
        guestSays("{\"exit\":3}\n");
        channel.exit(3, LONG);
        assertEquals("exit 3\n", guestReads());
        guestSays("{\"exit\":0}\n");
        assertThrows(IOException.class, () -> channel.exit(4, LONG));
    }
}
