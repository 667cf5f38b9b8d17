package dev.panvm.vmm.api;

import dev.panvm.vmm.GuestOutcome;

import java.time.Duration;
import java.util.Optional;

/**
 * A started VM, on panvm or on the reference VMM (QEMU), seen the same way by the Java programs
 * that drive guests: tests, JMH benchmarks, the tuner. {@link #close} stops it if it still runs.
 */
public interface RunningVm extends AutoCloseable {

    /** Which VMM runs it: {@code "panvm"} or {@code "qemu"}. */
    String vmm();

    /**
     * The guest's control channel, ready (its {@code {"ctl":"ready"}} was received). The VM must
     * have a console connected to this process ({@code ConsoleTarget.InProcess}) and the guest
     * must serve on it (ferrite: {@code ctl=console}).
     *
     * @throws IllegalStateException the configuration has no in-process console
     */
    default ControlChannel control() {
        return controlChannel().orElseThrow(() -> new IllegalStateException(
                "this VM has no in-process console (add a console with ConsoleTarget.InProcess)"));
    }

    /** The control channel, if the VM has a console connected to this process. */
    Optional<ControlChannel> controlChannel();

    /**
     * Waits until the guest ends the VM, or {@code timeout} passes (then the VM is stopped and
     * the outcome is {@link GuestOutcome.TimedOut}).
     */
    GuestOutcome awaitOutcome(Duration timeout) throws InterruptedException;

    /** Stops the VM if it still runs and releases everything it holds. */
    @Override
    void close();
}
