package dev.panvm.vmm.devices.virtio;

import dev.panvm.kvm.VmFd;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.console.VirtioConsole;
import dev.panvm.virtio.net.MacAddress;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.rng.UrandomEntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.arch.x86_64.Layout;
import dev.panvm.vmm.bus.Bus;
import dev.panvm.vmm.devices.console.HostConsole;
import dev.panvm.vmm.devices.console.InProcessConsole;
import dev.panvm.vmm.memory.GuestMemory;
import dev.panvm.vmm.net.Tap;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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
        AutoCloseable opened = null;
        try {
            for (int i = 0; i < specs.size(); i++) {
                VirtioDevice device;
                BackendInput input = new BackendInput.None();
                switch (specs.get(i)) {
                    case DeviceSpec.Disk d -> {
                        FileBackend file = openImage(d);
                        opened = file;
                        device = new VirtioBlk(file, VirtioBlk.DEFAULT_QUEUE_SIZE, d.ioThreads());
                    }
                    case DeviceSpec.NullDisk n -> {
                        NullBackend none = new NullBackend(n.sizeBytes());
                        opened = none;
                        device = new VirtioBlk(none);
                    }
                    case DeviceSpec.Rng r -> {
                        UrandomEntropySource source = UrandomEntropySource.open();
                        opened = source;
                        device = new VirtioRng(source);
                    }
                    case DeviceSpec.Tap t -> {
                        Tap tap = Tap.open(t.name());
                        opened = tap;
                        VirtioNet net = new VirtioNet(tap, t.mac().map(MacAddress::parse).orElse(null));
                        device = net;
                        input = new BackendInput.Readable(tap.readableFd().orElseThrow(), net::receiveFromBackend);
                    }
                    case DeviceSpec.Console c -> {
                        HostConsole port = HostConsole.open(c.target());
                        opened = port;
                        VirtioConsole console = new VirtioConsole(port);
                        device = console;
                        input = new BackendInput.Signalled(port::onInput, console::receiveFromPort);
                    }
                }
                slots.add(new VirtioMmioSlot(vm, memory, mmio, device,
                        Layout.VIRTIO_MMIO_BASE + i * Layout.VIRTIO_MMIO_STRIDE, Layout.VIRTIO_IRQ_BASE + i,
                        input, opened));
                opened = null;
            }
            return slots;
        } catch (ErrnoException e) {
            closeQuietly(opened);
            closeAll(slots);
            throw new MachineException("virtio setup failed: " + e.getMessage(), e);
        } catch (IOException | IllegalArgumentException e) {
            closeQuietly(opened);
            closeAll(slots);
            throw new MachineException(e.getMessage(), e);
        }
    }

    /** The in-process console among {@code slots}' backends, if one was asked for. */
    public static Optional<InProcessConsole> inProcessConsole(List<VirtioMmioSlot> slots) {
        for (VirtioMmioSlot s : slots) {
            if (s.backend() instanceof InProcessConsole c) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }

    private static void closeQuietly(AutoCloseable backend) {
        if (backend != null) {
            try {
                backend.close();
            } catch (Exception e) {
                // already failing: the original error is the one to report
            }
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
