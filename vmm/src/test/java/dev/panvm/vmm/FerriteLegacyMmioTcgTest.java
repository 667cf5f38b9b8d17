package dev.panvm.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferrite on QEMU's default virtio-mmio transports, which are legacy (version 1) on QEMU 7.2
 * unless {@code -global virtio-mmio.force-legacy=false}, and the same image on version 2. One
 * microvm (TCG, no KVM) with all four devices ferrite drives: virtio-blk, virtio-rng, virtio-net
 * (user-mode networking, whose gateway 10.0.2.2 answers ARP and pings itself: no root, no tap)
 * and a virtconsole carrying the control channel, which runs one workload per device.
 */
class FerriteLegacyMmioTcgTest {
    private static final int IMAGE_BYTES = 4 << 20;
    private static final long QEMU_TIMEOUT_S = 45;
    private static final String LEGACY = "legacy virtio-mmio";

    @TempDir
    Path dir;

    @BeforeEach
    void needQemu() {
        KvmTestSupport.assumeQemuInstalled();
    }

    /**
     * Every device over the control channel. {@code transport}: {@code legacy} (QEMU's default,
     * no -global) or {@code modern} ({@code force-legacy=false}). The last row takes the legacy
     * paths QEMU's defaults skip: virtio-net without VIRTIO_F_ANY_LAYOUT (the 10-byte header in a
     * descriptor of its own), virtio-blk without indirect descriptors and event idx.
     */
    @ParameterizedTest(name = "{0} irq={1} {2}")
    @CsvSource({
        "legacy, intr, ''",
        "legacy, poll, ''",
        "modern, intr, ''",
        "legacy, intr, 'virtio-net-device.any_layout=off virtio-blk-device.indirect_desc=off virtio-blk-device.event_idx=off'",
    })
    void everyDeviceWorks(String transport, String irq, String globals) throws Exception {
        boolean legacy = transport.equals("legacy");
        byte[] data = new byte[IMAGE_BYTES];
        new Random(7).nextBytes(data);
        Path image = Files.write(dir.resolve("disk.img"), data);
        String expectedSha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        Path socket = dir.resolve("ctl.sock");

        List<String> cmd = new ArrayList<>(List.of(KvmTestSupport.QEMU, "-M", "microvm",
                "-accel", "tcg", "-cpu", "max", "-m", "128M", "-smp", "1",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", KvmTestSupport.ferrite().toString(), "-append", "irq=" + irq + " ctl=console",
                "-drive", "id=d0,file=" + image + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=d0",
                "-device", "virtio-rng-device",
                "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
                "-device", "virtio-serial-device,max_ports=1",
                "-chardev", "socket,id=ctl,path=" + socket + ",server=on,wait=on",
                "-device", "virtconsole,chardev=ctl"));
        if (!legacy) {
            cmd.addAll(List.of("-global", "virtio-mmio.force-legacy=false"));
        }
        for (String g : globals.split(" ")) {
            if (!g.isEmpty()) {
                cmd.addAll(List.of("-global", g));
            }
        }
        Process qemu = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        qemu.getOutputStream().close();
        CompletableFuture<String> serial = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(qemu.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(reading QEMU's output failed: " + e + ")";
            }
        });
        // A hung guest would block the reads below: ending QEMU ends them (EOF).
        CompletableFuture<Void> watchdog = CompletableFuture.runAsync(() -> qemu.destroyForcibly(),
                CompletableFuture.delayedExecutor(QEMU_TIMEOUT_S, TimeUnit.SECONDS));
        try (SocketChannel ch = connect(socket, qemu)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(ch);
            Control ctl = new Control(in, out, qemu, serial);
            assertEquals("ready", ctl.read().path("ctl").asText());

            JsonNode sum = ctl.run("run disksum qd=16");
            assertEquals(expectedSha, sum.path("sha256").asText(), sum.toString());
            assertEquals(IMAGE_BYTES, sum.path("bytes").asLong(), sum.toString());
            assertEquals(irq.equals("intr") ? "interrupt" : "polling", sum.path("completion").asText(), sum.toString());

            JsonNode rng = ctl.run("run rng bytes=8192");
            assertEquals(8192, rng.path("bytes").asLong(), rng.toString());
            assertTrue(rng.path("distinct_values").asInt() > 200, rng.toString());

            JsonNode ping = ctl.run("run ping ip=10.0.2.15/24 ping=10.0.2.2 count=3 interval_ms=50");
            assertEquals("52:55:0a:00:02:02", ping.path("peer_mac").asText(), "slirp's gateway answered ARP: " + ping);
            assertEquals(3, ping.path("received").asInt(), "every ping answered: " + ping);

            out.write("exit 0\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertEquals(0, ctl.read().path("exit").asInt());
        } finally {
            assertTrue(qemu.waitFor(QEMU_TIMEOUT_S + 5, TimeUnit.SECONDS), "QEMU did not end");
            watchdog.cancel(false);
        }
        String output = serial.get(5, TimeUnit.SECONDS);
        assertEquals(1, qemu.exitValue(), "QEMU reports debug-exit 0 as status 1:\n" + output);
        for (String device : List.of("blk", "rng", "net", "console")) {
            String line = output.lines().filter(l -> l.startsWith("virtio: " + device + " at ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + device + " boot line:\n" + output));
            assertEquals(legacy, line.contains(LEGACY), line);
        }
        assertFalse(output.contains("skipped") || output.contains("not usable"), output);
        String net = output.lines().filter(l -> l.startsWith("virtio: net at ")).findFirst().orElseThrow();
        if (legacy) {
            boolean split = globals.contains("any_layout=off");
            assertEquals(split, net.contains("10-byte header in its own descriptor"), net);
            assertTrue(net.contains("10-byte header"), net);
        }
        if (globals.contains("indirect_desc=off")) {
            String blk = output.lines().filter(l -> l.startsWith("virtio: blk at ")).findFirst().orElseThrow();
            assertFalse(blk.contains("indirect") || blk.contains("event idx"), blk);
        }
    }

    /** Connects once QEMU has created the socket (it waits for this client before the guest runs). */
    private static SocketChannel connect(Path socket, Process qemu) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            if (Files.exists(socket)) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    return ch;
                } catch (IOException e) {
                    ch.close();
                }
            }
            if (!qemu.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("no control socket from QEMU (alive: " + qemu.isAlive() + ")");
            }
            Thread.sleep(20);
        }
    }

    /** One answer per line on the control channel. */
    private record Control(BufferedReader in, OutputStream out, Process qemu, CompletableFuture<String> serial) {
        JsonNode read() throws Exception {
            String line = in.readLine();
            if (line == null) {
                qemu.destroyForcibly().waitFor();
                throw new AssertionError("control channel closed; serial output:\n" + serial.get(5, TimeUnit.SECONDS));
            }
            return KvmTestSupport.parseJson(line);
        }

        /** Sends a {@code run} command and returns the workload's answer (not an error). */
        JsonNode run(String command) throws Exception {
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            JsonNode answer = read();
            String workload = command.split(" ")[1];
            assertEquals(workload, answer.path("workload").asText(), command + " -> " + answer);
            return answer;
        }
    }
}
