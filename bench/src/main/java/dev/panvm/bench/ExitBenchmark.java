package dev.panvm.bench;

import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The VMM's own paths, same ferrite guest (one vCPU) on panvm and on QEMU microvm:
 * <ul>
 *   <li>a port-I/O exit: {@code out} to port 0x80 in guest kernel code, out to the VMM's
 *       device (panvm's Bus, QEMU's I/O dispatch) and back;</li>
 *   <li>an MMIO exit: a 32-bit read of a virtio-mmio register (MagicValue of the first
 *       transport), out to the VMM's virtio-mmio transport and back;</li>
 *   <li>a virtio request round trip on a device without media (panvm {@code null:},
 *       QEMU {@code null-co}), 512-byte reads at queue depth 1: the guest's QueueNotify becomes
 *       an ioeventfd signal inside KVM, the device thread (QEMU: its I/O thread) wakes, serves the
 *       request, puts it in the used ring and signals the irqfd; the guest polls the used ring.</li>
 * </ul>
 * One operation = one exit / one request.
 */
public class ExitBenchmark extends GuestBenchmark {
    static final int EXITS = 2_000;
    static final int REQUESTS = 2_000;

    @Param({"panvm", "qemu"})
    public String vmm;

    @Setup(Level.Trial)
    public void boot() throws Exception {
        subject = Subject.start(vmm, 1, config -> config.device(new DeviceSpec.NullDisk(1L << 30)));
    }

    @Benchmark
    @OperationsPerInvocation(EXITS)
    public Object portIo() throws Exception {
        return run("pio", "ops=" + EXITS);
    }

    @Benchmark
    @OperationsPerInvocation(EXITS)
    public Object mmio() throws Exception {
        return run("mmio", "ops=" + EXITS);
    }

    @Benchmark
    @OperationsPerInvocation(REQUESTS)
    public Object virtioRoundTrip() throws Exception {
        return run("diskbench", "mode=randread bs=512 qd=1 warmup=0 ops=" + REQUESTS);
    }
}
