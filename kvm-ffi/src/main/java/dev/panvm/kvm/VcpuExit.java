package dev.panvm.kvm;

import java.lang.foreign.MemorySegment;

/**
 * Why {@code KVM_RUN} returned: the {@code exit_reason} of {@code struct kvm_run} and the member
 * of its union that goes with it. Data segments point into the vCPU's shared {@code kvm_run}
 * page: a handler reads an OUT's data from them and writes an IN's result into them before the
 * next {@code KVM_RUN}.
 */
public sealed interface VcpuExit {

    /** KVM_EXIT_IO: {@code count} accesses of {@code size} bytes to an I/O port. */
    record Io(boolean out, int port, int size, int count, MemorySegment data) implements VcpuExit {}

    /** KVM_EXIT_MMIO: one access of {@code data.byteSize()} bytes to a guest-physical address. */
    record Mmio(long address, boolean write, MemorySegment data) implements VcpuExit {}

    /** KVM_EXIT_HLT: the guest halted (only seen without an in-kernel local APIC). */
    record Hlt() implements VcpuExit {}

    /** KVM_EXIT_SHUTDOWN: a triple fault or another shutdown condition. */
    record Shutdown() implements VcpuExit {}

    /** KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest. */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {}

    /** KVM_EXIT_INTERNAL_ERROR, e.g. suberror 1 = the instruction emulator failed. */
    record InternalError(int suberror, long[] data) implements VcpuExit {
        public InternalError {
            data = data.clone();
        }

        @Override
        public long[] data() {
            return data.clone();
        }
    }

    /** KVM_EXIT_SYSTEM_EVENT: the guest asked for shutdown, reset, or reported a crash. */
    record SystemEvent(int type) implements VcpuExit {}

    /** KVM_RUN returned EINTR or KVM_EXIT_INTR: a signal kicked the vCPU out; nothing to handle. */
    record Interrupted() implements VcpuExit {}

    /** Any exit reason panvm does not handle, by number ({@code KVM_EXIT_*}). */
    record Other(int reason) implements VcpuExit {}
}
