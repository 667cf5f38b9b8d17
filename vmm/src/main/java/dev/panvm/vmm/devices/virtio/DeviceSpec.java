package dev.panvm.vmm.devices.virtio;

import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.vmm.devices.console.ConsoleTarget;

import java.nio.file.Path;
import java.util.Optional;

/** A virtio device asked for on the command line, before it is built. */
public sealed interface DeviceSpec {

    /**
     * {@code --disk PATH[,ro][,io-threads=N]}: virtio-blk over a raw image file, its requests run
     * on {@code ioThreads} I/O threads of the device (0: on the device thread).
     */
    record Disk(Path image, boolean readOnly, int ioThreads) implements DeviceSpec {
        public Disk {
            if (ioThreads < 0 || ioThreads > VirtioBlk.MAX_IO_THREADS) {
                throw new IllegalArgumentException("I/O threads must be between 0 and " + VirtioBlk.MAX_IO_THREADS
                        + ", got " + ioThreads);
            }
        }

        /** A disk with {@link VirtioBlk#DEFAULT_IO_THREADS} I/O threads. */
        public Disk(Path image, boolean readOnly) {
            this(image, readOnly, VirtioBlk.DEFAULT_IO_THREADS);
        }
    }

    /** {@code --disk null:SIZE}: virtio-blk that completes requests without media (null_blk). */
    record NullDisk(long sizeBytes) implements DeviceSpec {}

    /** {@code --net tap:NAME[,mac=..]}: virtio-net on a TAP interface. */
    record Tap(String name, Optional<String> mac) implements DeviceSpec {}

    /** {@code --rng}: virtio-rng from the host's /dev/urandom. */
    record Rng() implements DeviceSpec {}

    /** {@code --console TARGET}: virtio-console with one port, connected to {@code target}. */
    record Console(ConsoleTarget target) implements DeviceSpec {}
}
