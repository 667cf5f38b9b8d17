package dev.panvm.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.api.ControlChannel;
import dev.panvm.vmm.api.RunningVm;
import dev.panvm.vmm.api.SerialTail;
import dev.panvm.vmm.api.Vmm;
import dev.panvm.vmm.devices.console.ConsoleTarget;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * The system a benchmark fork measures, started once per fork and driven through ferrite's
 * control protocol: ferrite on panvm (in this JVM) or on QEMU microvm, or the host's own Linux
 * running the same workload in the peer program (bench/linux-peer). Every workload result's
 * own timing goes to {@link SecondaryMetrics} as the guest clock's figure.
 */
final class Subject implements AutoCloseable {
    /** The {@code vmm} parameter's value for the host's own Linux, the peer with no VMM at all. */
    static final String HOST_LINUX = "host-linux";
    /** Guest RAM for every benchmark VM. */
    static final long MEMORY = 512L << 20;
    private static final Duration BOOT = Duration.ofSeconds(60);
    private static final Duration COMMAND = Duration.ofMinutes(5);

    private final String system;
    private final ControlChannel control;
    private final AutoCloseable owner;
    private final SerialTail serial;

    private Subject(String system, ControlChannel control, AutoCloseable owner, SerialTail serial) {
        this.system = system;
        this.control = control;
        this.owner = owner;
        this.serial = serial;
    }

    /**
     * {@code system} = {@code panvm} or {@code qemu}: ferrite with {@code ctl=console} on that
     * VMM, {@code cpus} vCPUs, 512 MiB and the devices {@code devices} adds (before the console);
     * {@value #HOST_LINUX}: the peer program on the host's own Linux.
     */
    static Subject start(String system, int cpus, Consumer<MachineConfig.Builder> devices) throws Exception {
        if (system.equals(HOST_LINUX)) {
            Process peer = new ProcessBuilder(BenchEnv.linuxPeer().toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            ControlChannel channel = ControlChannel.overStreams("linux-peer", peer.getInputStream(),
                    peer.getOutputStream(), () -> "the peer program ended", peer::destroyForcibly);
            channel.awaitReady(BOOT);
            return new Subject(system, channel, peer::destroyForcibly, new SerialTail());
        }
        SerialTail serial = new SerialTail();
        MachineConfig.Builder config = MachineConfig.builder(BenchEnv.ferrite())
                .cmdline("ctl=console").cpus(cpus).memoryBytes(MEMORY).serialOut(serial)
                // Guest RAM faulted in before the runs: a first touch then costs no host fault.
                .prefault(true);
        devices.accept(config);
        config.console(new ConsoleTarget.InProcess());
        RunningVm vm;
        try {
            vm = Vmm.of(system).start(config.build(), BOOT);
        } catch (Exception e) {
            throw new IllegalStateException(system + ": " + e.getMessage() + "\nserial console:\n" + serial, e);
        }
        return new Subject(system, vm.control(), vm, serial);
    }

    /** Runs {@code workload} with {@code params}; records its own time per operation. */
    ObjectNode run(String workload, String params) throws Exception {
        ObjectNode r;
        try {
            r = control.run(workload, params, COMMAND);
        } catch (Exception e) {
            throw new IllegalStateException(system + ": run " + workload + " " + params + ": " + e.getMessage()
                    + "\nserial console:\n" + serial, e);
        }
        SecondaryMetrics.record(SecondaryMetrics.GUEST_NS_PER_OP, r.path("elapsed_ns").asDouble(),
                r.path("ops").asDouble());
        return r;
    }

    /** Ends the guest with {@code exit 0} and checks that it did end so; then releases it. */
    @Override
    public void close() throws Exception {
        try {
            control.exit(0, COMMAND);
            if (owner instanceof RunningVm vm) {
                GuestOutcome o = vm.awaitOutcome(Duration.ofSeconds(30));
                if (!o.equals(new GuestOutcome.Exited(0))) {
                    throw new IllegalStateException(system + " ended with " + o + "\nserial console:\n" + serial);
                }
            }
        } finally {
            owner.close();
        }
    }
}
