package dev.panvm.vmm;

/** How a VM run ended. */
public sealed interface GuestOutcome {

    /** The guest wrote {@code status} to the debug-exit port. */
    record Exited(int status) implements GuestOutcome {}

    /**
     * The guest cannot go on: a triple fault, an emulation failure, a failed VM entry, a halt
     * with nothing to wake it, or an error in the VMM while serving it.
     *
     * @param reason   one line saying what happened
     * @param cpuState the registers of the vCPU that stopped, for the report
     */
    record Crashed(String reason, String cpuState) implements GuestOutcome {}

    /** The run exceeded its time limit and was stopped. */
    record TimedOut(long millis) implements GuestOutcome {}

    /** The host stopped the VM before the guest ended it. */
    record Stopped() implements GuestOutcome {}
}
