package dev.panvm.virtio.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.console.ConsolePort;
import dev.panvm.virtio.console.VirtioConsole;
import dev.panvm.virtio.net.NetBackend;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;

import java.lang.foreign.MemorySegment;

/**
 * The virtio-mmio transport's register sequences: every device model (blk, net, console, rng)
 * behind a {@link dev.panvm.virtio.mmio.MmioTransport}, driven by {@link FuzzDriver} with half
 * of its operations raw register accesses (any offset in and around the window, widths 0 to 16,
 * any value, in any order), the rest status-bit writes, whole initializations, queue setup,
 * notifications, the device thread's poll, interrupt acknowledgement, configuration space
 * accesses, resets and chains. The status and activation invariants of {@link FuzzDriver#check}
 * are the point here: DRIVER_OK never without FEATURES_OK, FEATURES_OK never with features the
 * device did not offer or without VERSION_1, a reset always back to 0.
 */
class MmioTransportFuzzTest {
    private static final FuzzMemory MEMORY = new FuzzMemory();

    @FuzzTest
    void registers(FuzzedDataProvider in) throws Throwable {
        Watchdog.input(() -> {
            MEMORY.clear();
            int queueSize = in.consumeInt(0, 7) == 0 ? in.pickValue(new int[] {1, 2, 4, 8}) : 16;
            VirtioDeviceBase device = switch (in.consumeInt(0, 3)) {
                case 0 -> new VirtioBlk(new NullBackend(in.consumeInt(0, 1 << 20)), queueSize);
                case 1 -> new VirtioNet(loopback(), null, queueSize);
                case 2 -> new VirtioConsole(echo(), queueSize);
                default -> new VirtioRng(zeroes(), queueSize);
            };
            new FuzzDriver(MEMORY, device, in, 16, d -> {
                if (device instanceof VirtioNet net) {
                    d.entry("receiveFromBackend", net::receiveFromBackend);
                } else if (device instanceof VirtioConsole console) {
                    d.entry("receiveFromPort", console::receiveFromPort);
                }
            }).run();
        });
    }

    /** A network backend that returns every frame the guest sends. */
    private static NetBackend loopback() {
        return new NetBackend() {
            private byte[] frame;

            @Override
            public int read(MemorySegment dst) {
                if (frame == null) {
                    return 0;
                }
                int n = (int) Math.min(frame.length, dst.byteSize());
                MemorySegment.copy(MemorySegment.ofArray(frame), 0, dst, 0, n);
                frame = null;
                return n;
            }

            @Override
            public void write(MemorySegment f) {
                frame = f.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            }

            @Override
            public void close() {
            }
        };
    }

    /** A console port that hands back what the guest wrote, a little at a time. */
    private static ConsolePort echo() {
        return new ConsolePort() {
            private long waiting;

            @Override
            public int read(MemorySegment dst) {
                int n = (int) Math.min(Math.min(waiting, 7), dst.byteSize());
                waiting -= n;
                return n;
            }

            @Override
            public void write(MemorySegment src) {
                waiting += src.byteSize();
            }
        };
    }

    private static EntropySource zeroes() {
        return new EntropySource() {
            @Override
            public long fill(MemorySegment dst) {
                dst.fill((byte) 0);
                return dst.byteSize();
            }

            @Override
            public void close() {
            }
        };
    }
}
