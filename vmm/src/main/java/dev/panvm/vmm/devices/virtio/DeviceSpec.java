package dev.panvm.vmm.devices.virtio;

import dev.panvm.vmm.devices.console.ConsoleTarget;

import java.nio.file.Path;
import java.util.Optional;

/** A virtio device asked for on the command line, before it is built. */
public sealed interface DeviceSpec {

    /** {@code --disk PATH[,ro]}: virtio-blk over a raw image file. */
    record Disk(Path image, boolean readOnly) implements DeviceSpec {}

    /** {@code --disk null:SIZE}: virtio-blk that completes requests without media (null_blk). */
    record NullDisk(long sizeBytes) implements DeviceSpec {}

    /** {@code --net tap:NAME[,mac=..]}: virtio-net on a TAP interface. */
    record Tap(String name, Optional<String> mac) implements DeviceSpec {}

    /** {@code --rng}: virtio-rng from the host's /dev/urandom. */
    record Rng() implements DeviceSpec {}

    /** {@code --console TARGET}: virtio-console with one port, connected to {@code target}. */
    record Console(ConsoleTarget target) implements DeviceSpec {}
}
