package dev.panvm.vmm;

import dev.panvm.kvm.VcpuExit;
import dev.panvm.kvm.VcpuFd;
import dev.panvm.kvm.api.KvmConstants;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.ThreadKick;
import dev.panvm.vmm.bus.Bus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

/**
 * One vCPU's run loop, on its own platform thread: enter the guest, serve the exit on the
 * port-I/O or MMIO bus, repeat. Exits that mean the guest cannot continue end the VM with a
 * {@link GuestOutcome.Crashed} carrying the reason and registers; nothing here waits forever
 * except inside KVM_RUN, from which {@link #kick} gets it out.
 */
final class Vcpu implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Vcpu.class);

    private final VcpuFd fd;
    private final Bus pio;
    private final Bus mmio;
    private final Consumer<GuestOutcome> onEnd;
    private final CountDownLatch started = new CountDownLatch(1);
    private volatile boolean stopping;
    private volatile long pthread;

    Vcpu(VcpuFd fd, Bus pio, Bus mmio, Consumer<GuestOutcome> onEnd) {
        this.fd = fd;
        this.pio = pio;
        this.mmio = mmio;
        this.onEnd = onEnd;
    }

    @Override
    public void run() {
        pthread = ThreadKick.currentThread();
        started.countDown();
        try {
            while (!stopping) {
                GuestOutcome end = handle(fd.run());
                if (end != null) {
                    onEnd.accept(end);
                    return;
                }
            }
        } catch (ErrnoException | RuntimeException e) {
            LOG.debug("vCPU {} failed", fd.id(), e);
            onEnd.accept(new GuestOutcome.Crashed("vCPU " + fd.id() + ": VMM error: " + e.getMessage(), cpuState()));
        }
    }

    /** Handles one exit; returns an outcome when the guest cannot continue. */
    private GuestOutcome handle(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.Io io -> {
                for (int i = 0; i < io.count(); i++) {
                    MemorySegment data = io.data().asSlice((long) i * io.size(), io.size());
                    if (io.out()) {
                        pio.write(io.port(), data);
                    } else {
                        pio.read(io.port(), data);
                    }
                }
                yield null;
            }
            case VcpuExit.Mmio m -> {
                if (m.write()) {
                    mmio.write(m.address(), m.data());
                } else {
                    mmio.read(m.address(), m.data());
                }
                yield null;
            }
            case VcpuExit.Interrupted i -> null;
            case VcpuExit.Hlt h -> crash("the guest halted with interrupts it cannot receive (KVM_EXIT_HLT)");
            case VcpuExit.Shutdown s -> crash("the guest triple-faulted (KVM_EXIT_SHUTDOWN)");
            case VcpuExit.FailEntry f -> crash(String.format(
                    "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY, hardware reason %#x on CPU %d)",
                    f.hardwareReason(), f.cpu()));
            case VcpuExit.InternalError e -> crash("KVM internal error, suberror " + e.suberror()
                    + (e.suberror() == KvmConstants.KVM_INTERNAL_ERROR_EMULATION
                    ? " (the instruction emulator failed: an instruction it cannot emulate)" : "")
                    + (e.data().length > 0 ? ", data " + Arrays.stream(e.data())
                    .mapToObj(Long::toHexString).toList() : ""));
            case VcpuExit.SystemEvent e -> crash("the guest raised system event " + e.type()
                    + (e.type() == KvmConstants.KVM_SYSTEM_EVENT_RESET ? " (reset)" : "")
                    + (e.type() == KvmConstants.KVM_SYSTEM_EVENT_SHUTDOWN ? " (shutdown)" : ""));
            case VcpuExit.Other o -> crash("unhandled exit reason " + o.reason());
        };
    }

    private GuestOutcome crash(String reason) {
        return new GuestOutcome.Crashed("vCPU " + fd.id() + ": " + reason, cpuState());
    }

    private String cpuState() {
        try {
            return fd.getRegs() + fd.getSregs().toString();
        } catch (ErrnoException | RuntimeException e) {
            return "(registers unavailable: " + e.getMessage() + ")";
        }
    }

    /** Asks the loop to end and gets the thread out of KVM_RUN if it is inside. */
    void kick() throws InterruptedException {
        stopping = true;
        fd.setImmediateExit(true);
        started.await();
        ThreadKick.kick(pthread);
    }
}
