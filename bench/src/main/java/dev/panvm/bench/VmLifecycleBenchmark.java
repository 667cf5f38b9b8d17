package dev.panvm.bench;

import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.api.RunningVm;
import dev.panvm.vmm.api.Vmm;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * VMs started, run to their exit and torn down, one after another, through the embedding API:
 * on panvm all in this process (KVM VM, memory, vCPU threads, devices built and released each
 * time); on QEMU a process per VM, the only way QEMU runs one. ferrite with no command line
 * (boot report, then exit), 512 MiB, one vCPU. One operation = one VM.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VmLifecycleBenchmark {
    @Param({"panvm", "qemu"})
    public String vmm;

    private MachineConfig config;

    @Setup(Level.Trial)
    public void configure() {
        config = MachineConfig.builder(BenchEnv.ferrite()).memoryBytes(Subject.MEMORY).build();
    }

    @Benchmark
    public GuestOutcome startRunTearDown() throws Exception {
        try (RunningVm vm = Vmm.of(vmm).start(config, Duration.ofSeconds(30))) {
            GuestOutcome o = vm.awaitOutcome(Duration.ofSeconds(30));
            if (!o.equals(new GuestOutcome.Exited(0))) {
                throw new IllegalStateException(vmm + ": " + o);
            }
            return o;
        }
    }
}
