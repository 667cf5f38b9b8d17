package dev.panvm.vmm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * ferrite's control protocol, host side (guest-kernel/BOOT.md, "Control channel"): one command
 * line out ({@code run WORKLOAD key=value...}, {@code sysctl NAME[=VALUE]}, {@code stats},
 * {@code exit [N]}), exactly one JSON object on one line back. The guest announces itself with
 * {@code {"ctl":"ready"}}. The same protocol runs over panvm's in-process console, QEMU's
 * virtio-console socket and the stdin/stdout of the Linux peer programs, so every peer is driven
 * the same way.
 *
 * <p>Answers are read by a daemon thread into a queue, so {@link #send} can wait with a timeout.
 * A command that times out leaves its answer in flight: the next answer could belong to it, so
 * the channel refuses further commands (the guest is still busy with the timed-out one anyway).
 * Thread-safe: commands are serialized.
 */
public final class ControlChannel implements AutoCloseable {
    /** Lines longer than this are a protocol violation (ferrite's answers are a few hundred bytes). */
    static final int MAX_LINE = 1 << 20;
    private static final String READY = "ready";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** What the reader thread hands over: a line, or why there are no more. */
    private sealed interface Received {
        record Line(String text) implements Received {}
        record End(String why) implements Received {}
    }

    private final String peer;
    private final WritableByteChannel toGuest;
    private final Supplier<String> whyEnded;
    private final AutoCloseable resources;
    private final BlockingQueue<Received> lines = new LinkedBlockingQueue<>();
    private String outOfStep;

    /**
     * A channel over {@code fromGuest} and {@code toGuest}, named {@code peer} in messages.
     * {@code whyEnded} explains an end of the guest's output (e.g. the VM's outcome);
     * {@code resources} are closed with the channel.
     */
    public ControlChannel(String peer, ReadableByteChannel fromGuest, WritableByteChannel toGuest,
                          Supplier<String> whyEnded, AutoCloseable resources) {
        this.peer = peer;
        this.toGuest = toGuest;
        this.whyEnded = whyEnded;
        this.resources = resources;
        Thread.ofPlatform().name("ctl-" + peer).daemon().start(() -> readLines(fromGuest));
    }

    /**
     * A channel over a process's (or any) byte streams: {@code toGuest} is flushed after each
     * command, since such streams are buffered (a {@link Process}'s standard input is).
     */
    public static ControlChannel overStreams(String peer, InputStream fromGuest, OutputStream toGuest,
                                             Supplier<String> whyEnded, AutoCloseable resources) {
        WritableByteChannel flushing = new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                int n = src.remaining();
                byte[] bytes = new byte[n];
                src.get(bytes);
                toGuest.write(bytes);
                toGuest.flush();
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() throws IOException {
                toGuest.close();
            }
        };
        return new ControlChannel(peer, Channels.newChannel(fromGuest), flushing, whyEnded, resources);
    }

    private void readLines(ReadableByteChannel in) {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            while (in.read(buf.clear()) >= 0) {
                for (int i = 0; i < buf.position(); i++) {
                    byte b = buf.get(i);
                    if (b == '\n') {
                        lines.add(new Received.Line(line.toString(StandardCharsets.UTF_8).strip()));
                        line.reset();
                    } else if (line.size() < MAX_LINE) {
                        line.write(b);
                    } else {
                        lines.add(new Received.End("an answer longer than " + MAX_LINE + " bytes"));
                        return;
                    }
                }
            }
            lines.add(new Received.End(whyEnded.get()));
        } catch (IOException e) {
            lines.add(new Received.End(e.getMessage() + " (" + whyEnded.get() + ")"));
        }
    }

    /** Waits for the guest's {@code {"ctl":"ready"}}: the first line it sends. */
    public synchronized void awaitReady(Duration timeout) throws IOException, TimeoutException {
        JsonNode first = next("(waiting for the ready line)", timeout);
        if (!READY.equals(first.path("ctl").asText())) {
            throw protocolError("expected {\"ctl\":\"ready\"} first, got " + first);
        }
    }

    /**
     * Sends one command and returns the guest's answer.
     *
     * @throws GuestCommandException the guest refused the command (an {@code error} answer)
     * @throws TimeoutException      no answer within {@code timeout}; the channel is unusable afterwards
     * @throws IOException           the guest ended, or broke the protocol
     */
    public synchronized ObjectNode send(String command, Duration timeout)
            throws IOException, TimeoutException, GuestCommandException {
        if (command.isBlank() || command.indexOf('\n') >= 0 || command.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("a command is one non-empty line: " + command);
        }
        if (outOfStep != null) {
            throw new IllegalStateException(peer + ": " + outOfStep);
        }
        ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
        try {
            while (out.hasRemaining()) {
                toGuest.write(out);
            }
        } catch (IOException e) {
            throw new IOException(peer + ": cannot send '" + command + "' (" + e.getMessage() + "): " + whyEnded.get(), e);
        }
        ObjectNode answer = next(command, timeout);
        if (answer.has("error")) {
            throw new GuestCommandException(command, answer.get("error").asText());
        }
        return answer;
    }

    /** {@code run WORKLOAD PARAMS}: the workload's result. */
    public ObjectNode run(String workload, String params, Duration timeout)
            throws IOException, TimeoutException, GuestCommandException {
        return send(params.isBlank() ? "run " + workload : "run " + workload + " " + params.strip(), timeout);
    }

    /** {@code exit STATUS}: the guest confirms and then ends the VM with {@code status}. */
    public void exit(int status, Duration timeout) throws IOException, TimeoutException, GuestCommandException {
        ObjectNode answer = send("exit " + status, timeout);
        if (answer.path("exit").asInt(-1) != status) {
            throw protocolError("exit " + status + " answered " + answer);
        }
    }

    private ObjectNode next(String command, Duration timeout) throws IOException, TimeoutException {
        Received r;
        try {
            r = lines.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outOfStep = "interrupted while waiting for the answer to '" + command + "'";
            throw new IOException(outOfStep, e);
        }
        switch (r) {
            case null -> {
                outOfStep = "'" + command + "' got no answer within " + timeout.toMillis() + " ms; "
                        + "its late answer would be taken for the next command's";
                throw new TimeoutException(peer + ": " + outOfStep);
            }
            case Received.End end -> {
                lines.add(end); // every later command sees the same end
                throw new IOException(peer + ": no answer to '" + command + "': " + end.why());
            }
            case Received.Line line -> {
                return parse(line.text());
            }
        }
    }

    private ObjectNode parse(String line) throws IOException {
        try {
            if (JSON.readTree(line) instanceof ObjectNode o) {
                return o;
            }
        } catch (JsonProcessingException e) {
            throw protocolError("malformed answer (" + e.getOriginalMessage() + "): " + line);
        }
        throw protocolError("an answer must be one JSON object: " + line);
    }

    private IOException protocolError(String message) {
        outOfStep = "protocol broken: " + message;
        return new IOException(peer + ": " + message);
    }

    /** Closes the channel's resources (not the VM). */
    @Override
    public void close() {
        try {
            resources.close();
        } catch (Exception e) {
            // closing what is already broken
        }
    }
}
