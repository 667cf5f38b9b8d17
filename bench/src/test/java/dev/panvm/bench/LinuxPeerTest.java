package dev.panvm.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.vmm.api.ControlChannel;
import dev.panvm.vmm.api.GuestCommandException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host-Linux peer (bench/linux-peer) speaks ferrite's control protocol, so the benchmarks
 * drive it exactly like a guest: built here with make, started as a process, driven through
 * the same {@link ControlChannel}.
 */
class LinuxPeerTest {
    private static final Duration ANSWER = Duration.ofSeconds(30);

    @TempDir
    static Path build;
    private static Path peer;

    private Process process;
    private ControlChannel channel;

    @BeforeAll
    static void buildPeer() throws Exception {
        peer = build.resolve("peer");
        Process make = new ProcessBuilder("make", "-s", "-C", BenchEnv.root().resolve("bench/linux-peer").toString(),
                "OUT=" + peer).inheritIO().start();
        assertEquals(0, make.waitFor(), "make bench/linux-peer failed");
    }

    @BeforeEach
    void start() throws Exception {
        process = new ProcessBuilder(peer.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        channel = ControlChannel.overStreams("linux-peer", process.getInputStream(), process.getOutputStream(),
                () -> "the peer exited", process::destroyForcibly);
        channel.awaitReady(ANSWER);
    }

    @AfterEach
    void stop() {
        channel.close();
    }

    @Test
    void runsFerritesWorkloadsWithFerritesParameters() throws Exception {
        ObjectNode pipe = channel.run("pipe", "ops=200 pin=split", ANSWER);
        assertEquals("pipe", pipe.path("workload").asText());
        assertEquals("linux-host", pipe.path("system").asText());
        assertEquals(200, pipe.path("ops").asLong());
        assertEquals("split", pipe.path("pin").asText());
        assertTrue(pipe.path("ns_per_op").asDouble() > 0 && pipe.path("elapsed_ns").asLong() > 0, pipe.toString());
        ObjectNode kmalloc = channel.run("kmalloc", "ops=0x1000 threads=2 slots=16", ANSWER);
        assertEquals(4096, kmalloc.path("ops").asLong());
        assertEquals(2, kmalloc.path("threads").asInt());
        assertEquals("churn", kmalloc.path("pattern").asText());
        ObjectNode pc = channel.run("kmalloc", "ops=5000 mode=pc", ANSWER);
        assertEquals("pc", pc.path("pattern").asText(), pc.toString());
        assertEquals(2, pc.path("threads").asInt(), pc.toString());
        assertEquals(5000, pc.path("ops").asLong(), pc.toString());
        ObjectNode hackbench = channel.run("hackbench", "groups=2 loops=5", ANSWER);
        assertEquals(2 * 10 * 10 * 5, hackbench.path("ops").asLong());
        assertEquals(40, hackbench.path("threads").asInt());
        assertEquals(1000, channel.run("pages", "ops=1000 depth=8", ANSWER).path("ops").asLong());
    }

    @Test
    void badCommandsGetErrorAnswersAndThePeerKeepsServing() throws Exception {
        GuestCommandException typo = assertThrows(GuestCommandException.class, () -> channel.run("pipe", "opz=5", ANSWER));
        assertTrue(typo.getMessage().contains("opz"), typo.getMessage());
        assertThrows(GuestCommandException.class, () -> channel.run("pipe", "ops=many", ANSWER));
        assertThrows(GuestCommandException.class, () -> channel.run("disksum", "", ANSWER));
        assertThrows(GuestCommandException.class, () -> channel.send("sysctl sched_latency_ns=1", ANSWER));
        assertThrows(GuestCommandException.class, () -> channel.send("frobnicate", ANSWER));
        assertTrue(channel.send("stats", ANSWER).path("stats").has("rss_kb"));
    }

    @Test
    void exitEndsThePeerWithTheStatus() throws Exception {
        channel.exit(5, ANSWER);
        assertTrue(process.waitFor(10, TimeUnit.SECONDS));
        assertEquals(5, process.exitValue());
    }
}
