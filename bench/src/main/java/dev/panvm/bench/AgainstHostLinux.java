package dev.panvm.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Guest-kernel figures whose peer is the host's own Linux running the same workload
 * (bench/linux-peer): ferrite with two vCPUs and no devices besides its console, or the peer.
 */
public abstract class AgainstHostLinux extends GuestBenchmark {
    @Param({"panvm", Subject.HOST_LINUX})
    public String vmm;

    @Setup(Level.Trial)
    public void boot() throws Exception {
        subject = Subject.start(vmm, 2, config -> { });
    }
}
