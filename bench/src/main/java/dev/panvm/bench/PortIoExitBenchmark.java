package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Round-trip cost of a guest port-I/O exit served by the VMM: ferrite, in PVM native mode on PVM
 * hosts, runs a tight loop of {@code out 0x80} in kernel code, one batch per operation; each
 * exit leaves the guest, reaches the VMM's device (panvm's Bus, QEMU's I/O dispatch) and returns.
 * JMH reports exits per second. The {@code vmm} parameter runs the same guest on panvm and on
 * QEMU microvm in the same run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PortIoExitBenchmark {
    /** Exits per operation; also passed to the guest as {@code pio_batch}. */
    static final int BATCH = 2000;

    @Param({"panvm", "qemu"})
    public String vmm;

    /** The ferrite image (default: the one scripts/build-ferrite makes). */
    @Param({"guest-kernel/target/ferrite"})
    public String kernel;

    private GuestUnderTest guest;

    @Setup(Level.Trial)
    public void boot() throws Exception {
        Path image = Path.of(kernel);
        String cmdline = "bench=pio pio_batch=" + BATCH;
        guest = switch (vmm) {
            case "panvm" -> new PanvmGuest(image, cmdline, BATCH);
            case "qemu" -> new QemuGuest(image, cmdline);
            default -> throw new IllegalArgumentException("unknown vmm " + vmm);
        };
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void portIoExit() throws Exception {
        guest.batch();
    }

    @TearDown(Level.Trial)
    public void shutdown() throws Exception {
        try {
            int status = guest.quit();
            if (status != 0) {
                throw new IllegalStateException(vmm + ": guest exited with status " + status);
            }
        } finally {
            guest.close();
        }
    }
}
