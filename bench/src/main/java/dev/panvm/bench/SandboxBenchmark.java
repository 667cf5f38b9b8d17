package dev.panvm.bench;

import dev.panvm.kvm.sys.RawSyscall;
import dev.panvm.vmm.sandbox.Sandbox;
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

import java.util.concurrent.TimeUnit;

/**
 * What panvm's seccomp sandbox adds to a system call (vmm/SANDBOX.md), no KVM needed: the
 * {@code ioctl} every vCPU exit makes ({@code KVM_RUN}'s number on descriptor -1, so the kernel
 * answers EBADF at once and the filter is most of what differs) and {@code getpid}, in a JVM fork
 * without the filter ({@code sandbox=none}, the peer) and one with panvm's ({@code sandbox=panvm}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SandboxBenchmark {
    private static final long SYS_IOCTL = 16;
    private static final long SYS_GETPID = 39;
    private static final long KVM_RUN = 0xae80;

    @Param({"none", "panvm"})
    public String sandbox;

    /** Once per fork: the filter cannot be lifted, so each value gets a JVM of its own. */
    @Setup(Level.Trial)
    public void install() throws Sandbox.SandboxException {
        if (sandbox.equals("panvm")) {
            Sandbox.install(Sandbox.panvmPolicy());
        }
    }

    @Benchmark
    public long ioctlKvmRun() {
        return RawSyscall.call(SYS_IOCTL, -1, KVM_RUN, 0, 0, 0, 0);
    }

    @Benchmark
    public long getpid() {
        return RawSyscall.call(SYS_GETPID, 0, 0, 0, 0, 0, 0);
    }
}
