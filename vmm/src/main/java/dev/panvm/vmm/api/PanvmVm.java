package dev.panvm.vmm.api;

import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.Machine;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.devices.console.InProcessConsole;

import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/** A VM on panvm in this process: a {@link Machine}, and its in-process console as the control channel. */
final class PanvmVm implements RunningVm {
    private final Machine machine;
    private final ControlChannel control;

    private PanvmVm(Machine machine, ControlChannel control) {
        this.machine = machine;
        this.control = control;
    }

    static PanvmVm start(MachineConfig config, Duration boot) throws MachineException {
        Machine machine = Machine.create(config);
        ControlChannel control = machine.console().map(c -> channel(machine, c)).orElse(null);
        machine.start();
        if (control == null) {
            return new PanvmVm(machine, null);
        }
        try {
            control.awaitReady(boot);
            return new PanvmVm(machine, control);
        } catch (IOException | TimeoutException e) {
            new PanvmVm(machine, control).close();
            throw new MachineException("the guest's control channel did not come up: " + e.getMessage(), e);
        }
    }

    /** The control channel over {@code console}; it sees the end of the guest's output when the guest ends. */
    private static ControlChannel channel(Machine machine, InProcessConsole console) {
        machine.ended().thenRun(console::close);
        return ControlChannel.overStreams("panvm", console.fromGuest(), console.toGuest(), () -> whyEnded(machine), console);
    }

    private static String whyEnded(Machine machine) {
        GuestOutcome o = machine.ended().toCompletableFuture().getNow(null);
        return o == null ? "the console was closed while the VM runs" : "the VM ended: " + o;
    }

    @Override
    public String vmm() {
        return Vmm.PANVM.id();
    }

    @Override
    public Optional<ControlChannel> controlChannel() {
        return Optional.ofNullable(control);
    }

    @Override
    public GuestOutcome awaitOutcome(Duration timeout) throws InterruptedException {
        return machine.awaitOutcome(timeout);
    }

    @Override
    public void close() {
        try {
            machine.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (control != null) {
            control.close();
        }
        machine.close();
    }
}
