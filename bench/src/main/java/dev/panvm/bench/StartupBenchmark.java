package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Start-up as a user sees it, one VMM process per measurement ({@code scripts/panvm run} with the
 * AOT cache scripts/build trains, or {@code qemu-system-x86_64 -M microvm}), ferrite with no
 * command line, 512 MiB, one vCPU: process start to ferrite's banner on the serial console, and
 * process start to the VMM's exit (ferrite prints its boot report and ends the VM). Also the
 * resident memory the VMM holds beyond guest RAM once ferrite has run a workload (kmalloc churn),
 * reported as the secondary result {@value SecondaryMetrics#RSS_BEYOND_RAM}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StartupBenchmark {
    @Param({"panvm", "qemu"})
    public String vmm;

    private GuestProcess guest;
    private PanvmService service;

    /** Whether panvm's runs go through a 'panvm serve' ({@link ServedStartupBenchmark}). */
    boolean served() {
        return false;
    }

    @Setup(Level.Trial)
    public void startService() throws Exception {
        if (served() && vmm.equals("panvm")) {
            service = PanvmService.start(2);
        }
    }

    /** Not timed: a worker is ready, as it is for a user who did not start VMs back to back. */
    @Setup(Level.Invocation)
    public void awaitWorker() throws Exception {
        if (service != null) {
            service.awaitReady();
        }
    }

    @TearDown(Level.Trial)
    public void stopService() throws Exception {
        if (service != null) {
            service.close();
        }
    }

    @Benchmark
    public String startToBanner() throws Exception {
        guest = GuestProcess.start(service != null ? "panvm-serve" : vmm, "", service);
        return guest.awaitLine(" booted (mode: ");
    }

    @Benchmark
    public Object startToExit() throws Exception {
        guest = GuestProcess.start(service != null ? "panvm-serve" : vmm, "", service);
        guest.awaitSuccess();
        return guest;
    }

    @Benchmark
    public double residentMemory() throws Exception {
        guest = GuestProcess.start(service != null ? "panvm-serve" : vmm, "workload=kmalloc ops=200000 hold_ms=60000", service);
        guest.awaitLine("{\"workload\":\"kmalloc\"");
        double mib = guest.residentBeyondGuestRamMiB();
        SecondaryMetrics.record(SecondaryMetrics.RSS_BEYOND_RAM, mib, 1);
        return mib;
    }

    /** Not timed: the rest of the run (the banner benchmark stops its clock at the banner). */
    @TearDown(Level.Invocation)
    public void finish() throws Exception {
        guest.close();
    }
}
