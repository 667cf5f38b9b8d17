package dev.panvm.vmm.devices.virtio;

import dev.panvm.kvm.VmFd;
import dev.panvm.kvm.sys.Epoll;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.EventFd;
import dev.panvm.virtio.VirtioDevice;
import dev.panvm.virtio.mmio.MmioRegister;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.vmm.bus.Bus;
import dev.panvm.vmm.bus.BusDevice;
import dev.panvm.vmm.memory.GuestMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One virtio device on panvm's MMIO bus: its virtio-mmio transport, an ioeventfd per queue (a
 * guest's QueueNotify write signals an eventfd inside KVM, with no exit to the VMM), an irqfd for
 * its interrupt, and the device thread that waits on those eventfds and runs the device (which may
 * hand requests on to threads of its own: virtio-blk's I/O threads complete them into the used
 * ring and raise the irqfd themselves). Register accesses other than QueueNotify exit to the vCPU
 * thread and reach the transport through the bus.
 */
public final class VirtioMmioSlot implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioMmioSlot.class);
    private static final long STOP = -1;
    private static final long BACKEND = -2;
    /** How long close waits for the device thread (a reset waits at most 2 s for a backend call). */
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(5);
    /**
     * After each wake-up the device thread keeps polling its queues this long before it sleeps
     * again (as QEMU's event loop polls, poll-max-ns): waking a sleeping thread costs tens of
     * microseconds on some hosts, more than serving a request.
     */
    static final long POLL_NANOS = 50_000;

    private final VirtioDevice device;
    private final long base;
    private final int gsi;
    private final List<EventFd> queueEvents = new ArrayList<>();
    private final EventFd interrupt;
    private final EventFd stop;
    private final Epoll epoll;
    private final AutoCloseable backend;
    /** Serves the backend's own input on the device thread; null when it has none. */
    private final Runnable backendService;
    private EventFd backendWake;
    private Thread thread;
    /** Set by {@link #close} when the device thread did not stop. */
    private volatile boolean stuck;

    /**
     * Places {@code device} at MMIO {@code base} with interrupt {@code gsi}. Without ioeventfd or
     * irqfd support the slot still works: QueueNotify writes then exit to the vCPU thread, which
     * signals the same eventfds; interrupts go through KVM_IRQ_LINE. {@code input} says how the
     * backend's own input wakes the device thread; {@code backend} is closed with the slot.
     */
    public VirtioMmioSlot(VmFd vm, GuestMemory memory, Bus mmio, VirtioDevice device, long base, int gsi,
                          BackendInput input, AutoCloseable backend) throws ErrnoException {
        this.device = device;
        this.base = base;
        this.gsi = gsi;
        this.backend = backend;
        this.epoll = new Epoll(device.queueCount() + 2);
        this.stop = new EventFd();
        this.interrupt = new EventFd();
        epoll.add(stop.fd(), STOP);
        boolean ioeventfds = true;
        for (int q = 0; q < device.queueCount(); q++) {
            EventFd e = new EventFd();
            queueEvents.add(e);
            epoll.add(e.fd(), q);
            try {
                vm.ioeventfd(e.fd(), base + MmioRegister.QUEUE_NOTIFY, 4, q);
            } catch (ErrnoException ex) {
                ioeventfds = false;
            }
        }
        if (!ioeventfds) {
            LOG.warn("{}: KVM_IOEVENTFD unavailable; queue notifications go through the vCPU thread", device.type());
        }
        boolean irqfd = true;
        try {
            vm.irqfd(interrupt.fd(), gsi);
        } catch (ErrnoException ex) {
            irqfd = false;
            LOG.warn("{}: KVM_IRQFD unavailable ({}); using KVM_IRQ_LINE", device.type(), ex.getMessage());
        }
        boolean useIrqfd = irqfd;
        MmioTransport transport = new MmioTransport(device, memory,
                bits -> raise(vm, useIrqfd), this::signalQueue);
        mmio.register(base, MmioTransport.WINDOW_SIZE, new BusDevice() {
            @Override
            public void read(long offset, MemorySegment data) {
                transport.read(offset, data);
            }

            @Override
            public void write(long offset, MemorySegment data) {
                transport.write(offset, data);
            }
        });
        this.backendService = switch (input) {
            case BackendInput.None n -> null;
            case BackendInput.Readable r -> {
                epoll.add(r.fd(), BACKEND);
                yield r.service();
            }
            case BackendInput.Signalled s -> {
                EventFd wake = new EventFd();
                backendWake = wake;
                epoll.add(wake.fd(), BACKEND);
                s.subscribe().accept(() -> signal(wake));
                yield () -> {
                    drain(wake);
                    s.service().run();
                };
            }
        };
    }

    /** The device's backend (an image file, a TAP device, a console's host side, ...). */
    public AutoCloseable backend() {
        return backend;
    }

    /** The kernel command-line entry announcing this device ({@code virtio_mmio.device=...}). */
    public String commandLineEntry() {
        return MmioTransport.commandLineEntry(base, gsi);
    }

    /** Starts the device thread. */
    public void start() {
        thread = Thread.ofPlatform().name("virtio-" + device.type() + "@" + Long.toHexString(base)).daemon().start(this::run);
    }

    /** A QueueNotify that reached the transport (no ioeventfd): hand it to the device thread. */
    private void signalQueue(int queue) {
        if (queue >= 0 && queue < queueEvents.size()) {
            signal(queueEvents.get(queue));
        }
    }

    private void raise(VmFd vm, boolean irqfd) {
        if (irqfd) {
            signal(interrupt);
            return;
        }
        try {
            vm.irqLine(gsi, true);
            vm.irqLine(gsi, false);
        } catch (ErrnoException e) {
            LOG.warn("{}: cannot raise interrupt {}: {}", device.type(), gsi, e.getMessage());
        }
    }

    private static void signal(EventFd e) {
        try {
            e.signal();
        } catch (ErrnoException ex) {
            throw new IllegalStateException("eventfd write failed", ex);
        }
    }

    private static void drain(EventFd e) {
        try {
            e.drain();
        } catch (ErrnoException ex) {
            throw new IllegalStateException("eventfd read failed", ex);
        }
    }

    private void run() {
        try {
            while (true) {
                for (long token : epoll.await(-1)) {
                    if (token == STOP) {
                        return;
                    }
                    if (token == BACKEND) {
                        backendService.run();
                    } else {
                        queueEvents.get((int) token).drain();
                        device.processQueue((int) token);
                    }
                }
                pollQueues();
            }
        } catch (ErrnoException | RuntimeException e) {
            LOG.error("{} device thread stopped: {}", device.type(), e.toString());
        }
    }

    /**
     * Serves whatever the driver adds during the next {@link #POLL_NANOS}, without waiting for a
     * kick. The spin only reads the avail indices; a queue is processed when it has work.
     */
    private void pollQueues() {
        long deadline = System.nanoTime() + POLL_NANOS;
        while (System.nanoTime() < deadline) {
            for (int q = 0; q < queueEvents.size(); q++) {
                if (device.hasAvailable(q)) {
                    device.processQueue(q);
                }
            }
            Thread.onSpinWait();
        }
    }

    /** Whether {@link #close} left the device thread, or a request on the device's own I/O threads, running. */
    public boolean stuck() {
        return stuck;
    }

    /**
     * Shuts the device down (it stops its I/O threads, if it has any, waiting a bounded time for
     * their requests), stops the device thread and closes the backend. The backend is closed
     * before the thread is joined: a device thread waiting on it (a console whose host side does
     * not read) is woken by that. A thread still running after {@link #JOIN_TIMEOUT}, or a
     * request the device could not wait out, is stuck in a backend call (a hung disk): it may
     * still use the eventfds and write into guest memory when the call returns, so they are left
     * open and {@link #stuck()} tells the machine to leave guest RAM mapped too.
     */
    @Override
    public void close() throws InterruptedException {
        boolean quiet = device.shutdown();
        try {
            backend.close();
        } catch (Exception e) {
            LOG.warn("{}: closing the backend failed: {}", device.type(), e.toString());
        }
        if (thread != null) {
            signal(stop);
            if (!thread.join(JOIN_TIMEOUT)) {
                stuck = true;
                LOG.warn("{}: the device thread did not stop within {} s (a backend call hangs); "
                        + "leaving its file descriptors and guest RAM in place", device.type(), JOIN_TIMEOUT.toSeconds());
                return;
            }
        }
        if (!quiet) {
            stuck = true;
            LOG.warn("{}: a request is still in the backend (a backend call hangs); "
                    + "leaving the device's file descriptors and guest RAM in place", device.type());
            return;
        }
        if (backendWake != null) {
            backendWake.close();
        }
        queueEvents.forEach(EventFd::close);
        interrupt.close();
        stop.close();
        epoll.close();
    }
}
