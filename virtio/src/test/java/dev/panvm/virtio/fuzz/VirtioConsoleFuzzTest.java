package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.console.ConsolePort;
import dev.panvm.virtio.console.VirtioConsole;
import dev.panvm.virtio.mmio.MmioRegister;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * virtio-console's receiveq and transmitq under a fuzzed driver: {@link FuzzDriver}'s operations
 * plus host input arriving in pieces ({@link VirtioConsole#receiveFromPort}), a port that hands
 * input out a few bytes at a time or fails, and emerg_wr writes at any time.
 *
 * <p>Oracle beyond the driver's: no input is lost, every byte the device took from the port
 * went into a receive buffer it returned to the driver (used length), whatever the driver and
 * the port did.
 */
class VirtioConsoleFuzzTest {
    private static final FuzzMemory MEMORY = new FuzzMemory();

    @FuzzTest
    void streams(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> {
            MEMORY.clear();
            CheckedPort port = new CheckedPort();
            VirtioConsole console = new VirtioConsole(port, in.consumeInt(0, 7) == 0 ? in.pickValue(new int[] {1, 2, 4, 8}) : 16);
            new FuzzDriver(MEMORY, console, in, 0, d -> consoleEvent(d, port, console)).run();
            // Every byte the device took from the port went into a receive buffer it returned.
            assertEquals(port.handedOut, console.metrics().snapshot().rxBytes(), "console input taken but not delivered");
        });
    }

    private static void consoleEvent(FuzzDriver d, CheckedPort port, VirtioConsole console) {
        FuzzedDataProvider in = d.in;
        switch (in.consumeInt(0, 7)) {
            case 0, 1, 2 -> {
                port.append(in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 5000) : in.consumeInt(0, 40));
                d.entry("receiveFromPort", console::receiveFromPort);
            }
            case 3 -> port.maxRead = in.consumeBoolean() ? Integer.MAX_VALUE : in.consumeInt(0, 8);
            case 4 -> port.failing = !port.failing;
            default -> d.writeRegister(MmioRegister.CONFIG + 8, in.consumeInt(0, 3) == 0 ? in.pickValue(new int[] {1, 2, 8}) : 4,
                    in.consumeInt(0, 255));
        }
    }

    /** Input as a count of bytes (their values do not matter to the device), output counted. */
    static final class CheckedPort implements ConsolePort {
        long arrived;
        long handedOut;
        long written;
        int maxRead = Integer.MAX_VALUE;
        boolean failing;

        void append(int bytes) {
            arrived += bytes;
        }

        long pending() {
            return arrived - handedOut;
        }

        @Override
        public int read(MemorySegment dst) throws IOException {
            if (failing) {
                throw new IOException("injected failure");
            }
            int n = (int) Math.min(Math.min(pending(), maxRead), dst.byteSize());
            dst.asSlice(0, n).fill((byte) 'x');
            handedOut += n;
            return n;
        }

        @Override
        public void write(MemorySegment src) throws IOException {
            if (failing) {
                throw new IOException("injected failure");
            }
            written += src.byteSize();
        }
    }
}
