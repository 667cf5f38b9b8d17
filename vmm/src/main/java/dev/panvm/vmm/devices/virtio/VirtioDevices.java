package dev.panvm.vmm.devices.virtio;

import dev.panvm.kvm.VmFd;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.net.MacAddress;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.rng.UrandomEntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.arch.x86_64.Layout;
import dev.panvm.vmm.bus.Bus;
import dev.panvm.vmm.memory.GuestMemory;
import dev.panvm.vmm.net.Tap;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Builds the virtio devices a VM was asked for and places each in its MMIO slot
 * ({@link Layout#VIRTIO_MMIO_BASE} + i * {@link Layout#VIRTIO_MMIO_STRIDE}, interrupt
 * {@link Layout#VIRTIO_IRQ_BASE} + i), the way QEMU microvm and Firecracker lay them out.
 */
public final class VirtioDevices {
    private VirtioDevices() {}

    /** Opens backends and creates the slots; bad input (missing image, no TAP access) is one line. */
    public static List<VirtioMmioSlot> attach(List<DeviceSpec> specs, VmFd vm, GuestMemory memory, Bus mmio)
            throws MachineException {
        if (specs.size() > Layout.VIRTIO_MAX_DEVICES) {
            throw new MachineException(specs.size() + " virtio devices; panvm has slots for " + Layout.VIRTIO_MAX_DEVICES);
        }
        List<VirtioMmioSlot> slots = new ArrayList<>();
        try {
            for (int i = 0; i < specs.size(); i++) {
                DeviceSpec spec = specs.get(i);
                OptionalInt backendFd = OptionalInt.empty();
                VirtioDevice device;
                switch (spec) {
                    case DeviceSpec.Disk d -> device = new VirtioBlk(openImage(d));
                    case DeviceSpec.NullDisk n -> device = new VirtioBlk(new NullBackend(n.sizeBytes()));
                    case DeviceSpec.Rng r -> device = new VirtioRng(UrandomEntropySource.open());
                    case DeviceSpec.Tap t -> {
                        Tap tap = Tap.open(t.name());
                        backendFd = tap.readableFd();
                        device = new VirtioNet(tap, t.mac().map(MacAddress::parse).orElse(null));
                    }
                }
                slots.add(new VirtioMmioSlot(vm, memory, mmio, device,
                        Layout.VIRTIO_MMIO_BASE + i * Layout.VIRTIO_MMIO_STRIDE, Layout.VIRTIO_IRQ_BASE + i, backendFd));
            }
            return slots;
        } catch (ErrnoException e) {
            closeAll(slots);
            throw new MachineException("virtio setup failed: " + e.getMessage(), e);
        } catch (IOException | IllegalArgumentException e) {
            closeAll(slots);
            throw new MachineException(e.getMessage(), e);
        }
    }

    private static FileBackend openImage(DeviceSpec.Disk d) throws IOException {
        if (!Files.isRegularFile(d.image())) {
            throw new IOException("disk " + d.image() + ": no such file (create a raw image first, e.g. truncate -s 64M "
                    + d.image() + ")");
        }
        if (Files.size(d.image()) < 512) {
            throw new IOException("disk " + d.image() + ": " + Files.size(d.image())
                    + " bytes is smaller than one 512-byte sector");
        }
        return FileBackend.open(d.image(), d.readOnly());
    }

    /** Stops every device thread and releases the eventfds. */
    public static void closeAll(List<VirtioMmioSlot> slots) {
        for (VirtioMmioSlot s : slots) {
            try {
                s.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
