package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.net.MacAddress;
import dev.panvm.virtio.net.NetBackend;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.net.VirtioNetHeader;
import dev.panvm.virtio.fuzz.FuzzDriver.Element;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Deque;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net's transmit and receive paths under a fuzzed driver: {@link FuzzDriver}'s operations
 * plus transmit chains (a 12-byte header with a fuzzed gso_type, then a frame of fuzzed length
 * cut into elements), receive buffers of fuzzed sizes (single, scattered, too small), and frames
 * arriving from the backend (lengths from 1 to the 65550 a TAP can return) with
 * {@link VirtioNet#receiveFromBackend} calls, and a backend that fails now and then.
 *
 * <p>Oracles beyond the driver's: the backend is only ever handed frames of 1 to
 * {@link VirtioNet#MAX_TX_FRAME} bytes, and only reads into buffers that can hold what it has.
 */
class VirtioNetFuzzTest {
    private static final FuzzMemory MEMORY = new FuzzMemory();

    @FuzzTest
    void frames(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> {
            MEMORY.clear();
            CheckedNetBackend backend = new CheckedNetBackend();
            MacAddress mac = in.consumeBoolean() ? new MacAddress(0x5254_0012_3456L) : null;
            VirtioNet net = new VirtioNet(backend, mac, in.consumeInt(0, 7) == 0 ? in.pickValue(new int[] {1, 2, 4, 8}) : 16);
            new FuzzDriver(MEMORY, net, in, 0, d -> netEvent(d, backend, net)).run();
        });
    }

    private static void netEvent(FuzzDriver d, CheckedNetBackend backend, VirtioNet net) {
        FuzzedDataProvider in = d.in;
        switch (in.consumeInt(0, 7)) {
            case 0, 1 -> {
                for (int n = in.consumeInt(1, 4); n > 0; n--) {
                    backend.frames.add(new byte[frameLength(in)]);
                }
                d.entry("receiveFromBackend", net::receiveFromBackend);
            }
            case 2 -> backend.failing = !backend.failing;
            case 3, 4 -> transmit(d);
            default -> receiveBuffers(d);
        }
    }

    private static int frameLength(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 7)) {
            case 0 -> in.consumeInt(1, 65550);
            case 1 -> in.pickValue(new int[] {1514, 1518, 1519, 1526, 1527, 2048, 65550});
            default -> in.consumeInt(1, 80);
        };
    }

    /** A transmit chain: header (gso_type mostly 0) and frame bytes, cut into 1 to 3 readable elements. */
    private static void transmit(FuzzDriver d) {
        FuzzedDataProvider in = d.in;
        int frame = in.consumeInt(0, 3) == 0 ? in.pickValue(new int[] {0, 1514, 1518, 1519, 4000}) : in.consumeInt(0, 100);
        byte[] bytes = new byte[VirtioNetHeader.SIZE + frame];
        if (in.consumeInt(0, 7) == 0) {
            bytes[1] = (byte) in.consumeInt(1, 255); // gso_type: GSO was not offered
        }
        if (in.consumeInt(0, 7) == 0) {
            bytes = java.util.Arrays.copyOf(bytes, in.consumeInt(0, VirtioNetHeader.SIZE)); // short header
        }
        int pieces = in.consumeInt(1, 3);
        Element[] elements = new Element[pieces];
        int from = 0;
        for (int i = 0; i < pieces; i++) {
            int to = i == pieces - 1 ? bytes.length : in.consumeInt(from, bytes.length);
            byte[] part = java.util.Arrays.copyOfRange(bytes, from, to);
            elements[i] = d.buffer(part.length, in.consumeInt(0, 15) == 0, part);
            from = to;
        }
        d.publishChain(1, elements);
    }

    /** A receive chain: 1 to 4 writable buffers of sizes around a header and a full frame. */
    private static void receiveBuffers(FuzzDriver d) {
        FuzzedDataProvider in = d.in;
        int pieces = in.consumeInt(1, 4);
        Element[] elements = new Element[pieces];
        for (int i = 0; i < pieces; i++) {
            long length = switch (in.consumeInt(0, 3)) {
                case 0 -> in.consumeInt(0, 13);
                case 1 -> in.pickValue(new int[] {1526, 1527, 1525, 2048, 4096});
                default -> in.consumeInt(0, 700);
            };
            elements[i] = d.buffer(length, in.consumeInt(0, 15) != 0, new byte[0]);
        }
        d.publishChain(0, elements);
    }

    /** Frames to the guest from {@link #frames}; frames from the guest checked and dropped. */
    static final class CheckedNetBackend implements NetBackend {
        final Deque<byte[]> frames = new ArrayDeque<>();
        boolean failing;

        @Override
        public int read(MemorySegment dst) throws IOException {
            if (failing) {
                throw new IOException("injected failure");
            }
            byte[] f = frames.poll();
            if (f == null) {
                return 0;
            }
            int n = (int) Math.min(f.length, dst.byteSize());
            MemorySegment.copy(MemorySegment.ofArray(f), 0, dst, 0, n);
            return n;
        }

        @Override
        public void write(MemorySegment frame) throws IOException {
            long n = frame.byteSize();
            assertTrue(n >= 1 && n <= VirtioNet.MAX_TX_FRAME, "frame of " + n + " bytes handed to the backend");
            if (failing) {
                throw new IOException("injected failure");
            }
        }

        @Override
        public void close() {
        }
    }
}
