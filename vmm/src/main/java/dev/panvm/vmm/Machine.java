package dev.panvm.vmm;

import dev.panvm.kvm.CpuidEntry;
import dev.panvm.kvm.Kvm;
import dev.panvm.kvm.VcpuFd;
import dev.panvm.kvm.VmFd;
import dev.panvm.kvm.api.KvmConstants;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;
import dev.panvm.kvm.sys.ThreadKick;
import dev.panvm.vmm.arch.x86_64.BootCpu;
import dev.panvm.vmm.arch.x86_64.CpuidSetup;
import dev.panvm.vmm.arch.x86_64.Gdt;
import dev.panvm.vmm.arch.x86_64.Layout;
import dev.panvm.vmm.arch.x86_64.PageTables;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.boot.ElfKernel;
import dev.panvm.vmm.boot.ElfLoader;
import dev.panvm.vmm.boot.HvmStartInfo;
import dev.panvm.vmm.boot.KernelLoadException;
import dev.panvm.vmm.bus.Bus;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.console.InProcessConsole;
import dev.panvm.vmm.devices.legacy.DebugExit;
import dev.panvm.vmm.devices.legacy.PostCodePort;
import dev.panvm.vmm.devices.legacy.Serial16550;
import dev.panvm.vmm.devices.virtio.VirtioDevices;
import dev.panvm.vmm.devices.virtio.VirtioMmioSlot;
import dev.panvm.vmm.memory.GuestMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A virtual machine built from a {@link MachineConfig}: KVM VM with in-kernel irqchip and PIT,
 * guest RAM, the kernel loaded and its boot structures written, legacy devices on the buses, and
 * vCPUs ready to run. {@link #create} reads as the list of steps it takes (as Firecracker's
 * {@code builder.rs}).
 */
public final class Machine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Machine.class);

    private final Kvm kvm;
    private final VmFd vm;
    private final GuestMemory memory;
    private final List<VcpuFd> vcpuFds;
    private final Bus pio = new Bus("port-io");
    private final Bus mmio;
    private final Serial16550 serial;
    private final PostCodePort postCodes = new PostCodePort();
    private final CompletableFuture<GuestOutcome> outcome = new CompletableFuture<>();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final List<VirtioMmioSlot> virtio;
    private final boolean prefault;

    private Machine(Kvm kvm, VmFd vm, GuestMemory memory, Bus mmio, List<VirtioMmioSlot> virtio,
                    List<VcpuFd> vcpuFds, MachineConfig config) {
        this.kvm = kvm;
        this.vm = vm;
        this.memory = memory;
        this.mmio = mmio;
        this.virtio = virtio;
        this.vcpuFds = vcpuFds;
        this.serial = new Serial16550(config.serialOut(), this::setSerialIrq);
        this.prefault = config.prefault();
    }

    /** Builds the VM. Errors in the configuration or the kernel come back as one-line messages. */
    public static Machine create(MachineConfig config) throws MachineException {
        validate(config);
        ElfKernel parsed = parseKernel(config);
        Kvm kvm = openKvm();
        VmFd vm = null;
        GuestMemory memory = null;
        List<VcpuFd> vcpus = new ArrayList<>();
        List<VirtioMmioSlot> virtio = List.of();
        try {
            vm = kvm.createVm();
            vm.setTssAddr(Layout.KVM_TSS_ADDR);
            vm.setIdentityMapAddr(Layout.KVM_IDENTITY_MAP_ADDR);
            vm.createIrqchip();
            vm.createPit2(KvmConstants.KVM_PIT_SPEAKER_DUMMY);
            memory = GuestMemory.allocate(Layout.ramRanges(config.memoryBytes()));
            int slot = 0;
            for (GuestMemory.Region r : memory.regions()) {
                vm.setUserMemoryRegion(slot++, 0, r.guestAddress(), r.host());
            }
            ElfKernel kernel = ElfLoader.load(parsed, config.kernel(), memory, Layout.HIMEM_START);
            Bus mmio = new Bus("mmio");
            virtio = VirtioDevices.attach(config.devices(), vm, memory, mmio);
            String cmdline = withDeviceEntries(config.cmdline(), virtio);
            int gdtLimit = Gdt.write(memory);
            long cr3 = PageTables.write(memory);
            long startInfo = HvmStartInfo.write(memory, cmdline, HvmStartInfo.memoryMap(memory));
            List<CpuidEntry> supported = kvm.supportedCpuid();
            for (int i = 0; i < config.cpus(); i++) {
                VcpuFd vcpu = vm.createVcpu(i);
                vcpus.add(vcpu);
                vcpu.setCpuid(CpuidSetup.forVcpu(supported, i, tscKhz(vcpu)));
                vcpu.setFpuDefaults();
            }
            setBootState(vcpus, config.boot(), kernel, gdtLimit, cr3, startInfo);
            Machine machine = new Machine(kvm, vm, memory, mmio, virtio, vcpus, config);
            machine.attachDevices();
            return machine;
        } catch (KernelLoadException e) {
            closeAll(kvm, vm, memory, vcpus, virtio);
            throw new MachineException(e.getMessage(), e);
        } catch (ErrnoException e) {
            closeAll(kvm, vm, memory, vcpus, virtio);
            throw new MachineException("KVM setup failed: " + e.getMessage(), e);
        } catch (MachineException | RuntimeException e) {
            closeAll(kvm, vm, memory, vcpus, virtio);
            throw e;
        }
    }

    /** The command line with a {@code virtio_mmio.device=} entry per device, as QEMU microvm adds them. */
    private static String withDeviceEntries(String cmdline, List<VirtioMmioSlot> slots) throws MachineException {
        StringBuilder b = new StringBuilder(cmdline);
        for (VirtioMmioSlot s : slots) {
            b.append(b.isEmpty() ? "" : " ").append(s.commandLineEntry());
        }
        if (b.length() > Layout.CMDLINE_MAX) {
            throw new MachineException("kernel command line with the device entries is " + b.length()
                    + " bytes; the limit is " + Layout.CMDLINE_MAX);
        }
        return b.toString();
    }

    private static void validate(MachineConfig c) throws MachineException {
        if (c.cpus() < 1 || c.cpus() > MachineConfig.MAX_CPUS) {
            throw new MachineException("--cpus must be between 1 and " + MachineConfig.MAX_CPUS + ", got " + c.cpus());
        }
        if (c.memoryBytes() < Layout.MIN_RAM) {
            throw new MachineException("guest RAM of " + (c.memoryBytes() >> 20) + " MiB is too small; the minimum is "
                    + (Layout.MIN_RAM >> 20) + " MiB");
        }
        if (c.cmdline().length() > Layout.CMDLINE_MAX) {
            throw new MachineException("kernel command line is " + c.cmdline().length() + " bytes; the limit is "
                    + Layout.CMDLINE_MAX);
        }
        if (!c.cmdline().chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)) {
            throw new MachineException("kernel command line must be printable ASCII");
        }
    }

    /** Parses the kernel before any KVM or memory work, so a bad image fails fast and cheaply. */
    private static ElfKernel parseKernel(MachineConfig c) throws MachineException {
        try {
            if (Files.isDirectory(c.kernel())) {
                throw new MachineException("kernel " + c.kernel() + ": is a directory");
            }
            ElfKernel k = ElfLoader.parse(c.kernel());
            if (c.boot() == BootProtocol.PVH && k.pvhEntry().isEmpty()) {
                throw new MachineException("kernel " + c.kernel() + ": no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); boot it with --boot direct");
            }
            if (c.boot() == BootProtocol.DIRECT && Layout.bootVirtToPhys(k.entry()) < 0) {
                throw new MachineException(String.format(
                        "kernel %s: entry point %#x is neither below 4 GiB nor in the kernel half at %#x",
                        c.kernel(), k.entry(), Layout.KERNEL_VIRT_BASE));
            }
            return k;
        } catch (KernelLoadException e) {
            throw new MachineException(e.getMessage(), e);
        }
    }

    private static Kvm openKvm() throws MachineException {
        try {
            return Kvm.open();
        } catch (ErrnoException e) {
            String hint = switch (e.errno()) {
                case LibC.ENOENT -> ": no such device; this host has no KVM (load kvm_intel/kvm_amd, or use a KVM-enabled host)";
                case LibC.EACCES -> ": permission denied; add yourself to the kvm group or run as root";
                default -> ": " + LibC.strerror(e.errno());
            };
            throw new MachineException("cannot open " + Kvm.DEVICE + hint, e);
        }
    }

    private static int tscKhz(VcpuFd vcpu) {
        try {
            return vcpu.tscKhz();
        } catch (ErrnoException e) {
            return 0; // no stable TSC frequency to report: the guest calibrates
        }
    }

    /**
     * Direct entry: every vCPU starts at the kernel's entry in long mode at once, told its index
     * (RDI) and the vCPU count (RSI), so the kernel needs no INIT/SIPI trampoline. PVH: only the
     * boot CPU starts; the others wait, as on a PC, for INIT/SIPI through the in-kernel LAPIC.
     */
    private static void setBootState(List<VcpuFd> vcpus, BootProtocol boot, ElfKernel kernel,
                                     int gdtLimit, long cr3, long startInfo) throws ErrnoException {
        VcpuFd bsp = vcpus.getFirst();
        if (boot == BootProtocol.PVH) {
            bsp.setSregs(BootCpu.protectedMode32(bsp.getSregs(), gdtLimit));
            bsp.setRegs(BootCpu.entryRegs(kernel.pvhEntry().orElseThrow(), startInfo, 0, 1));
            return;
        }
        for (VcpuFd vcpu : vcpus) {
            vcpu.setSregs(BootCpu.longMode(vcpu.getSregs(), gdtLimit, cr3));
            vcpu.setRegs(BootCpu.entryRegs(kernel.entry(), startInfo, vcpu.id(), vcpus.size()));
            if (vcpu != bsp) {
                vcpu.setMpState(KvmConstants.KVM_MP_STATE_RUNNABLE);
            }
        }
    }

    private void attachDevices() {
        pio.register(Serial16550.COM1_PORT, Serial16550.PORT_COUNT, serial);
        pio.register(DebugExit.PORT, DebugExit.SIZE, new DebugExit(status -> outcome.complete(new GuestOutcome.Exited(status))));
        pio.register(PostCodePort.PORT, 1, postCodes);
    }

    private void setSerialIrq(boolean asserted) {
        try {
            vm.irqLine(Serial16550.COM1_IRQ, asserted);
        } catch (ErrnoException e) {
            LOG.warn("cannot set IRQ {}: {}", Serial16550.COM1_IRQ, e.getMessage());
        }
    }

    /** COM1, for feeding input to the guest. */
    public Serial16550 serial() {
        return serial;
    }

    /** The POST-code port at 0x80. */
    public PostCodePort postCodes() {
        return postCodes;
    }

    /** Guest RAM. */
    public GuestMemory memory() {
        return memory;
    }

    /**
     * The console connected to this process ({@link ConsoleTarget.InProcess}), if the
     * configuration asked for one: how a Java program talks to the guest.
     */
    public Optional<InProcessConsole> console() {
        return VirtioDevices.inProcessConsole(virtio);
    }

    /** Completes when the guest ends (or the VM is stopped), with how. */
    public CompletionStage<GuestOutcome> ended() {
        return outcome.minimalCompletionStage();
    }

    /** Starts every vCPU on its own platform thread; {@link #awaitOutcome} waits for the end. */
    public void start() {
        ThreadKick.install();
        if (prefault) {
            memory.startPrefault();
        }
        virtio.forEach(VirtioMmioSlot::start);
        for (VcpuFd fd : vcpuFds) {
            Vcpu vcpu = new Vcpu(fd, pio, mmio, outcome::complete);
            vcpus.add(vcpu);
            Thread t = Thread.ofPlatform().name("vcpu-" + fd.id()).daemon().start(vcpu);
            threads.add(t);
        }
    }

    /**
     * Waits until the guest ends or {@code timeout} passes (the outcome is then
     * {@link GuestOutcome.TimedOut}), then stops every vCPU.
     */
    public GuestOutcome awaitOutcome(Duration timeout) throws InterruptedException {
        try {
            outcome.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            outcome.complete(new GuestOutcome.TimedOut(timeout.toMillis()));
        } catch (ExecutionException e) {
            throw new IllegalStateException("the outcome is never completed exceptionally", e);
        }
        stop();
        return outcome.resultNow();
    }

    /** Runs the VM to its end: {@link #start} then {@link #awaitOutcome}. */
    public GuestOutcome run(Duration timeout) throws InterruptedException {
        start();
        return awaitOutcome(timeout);
    }

    /**
     * Stops every vCPU; the outcome, if the guest had not ended yet, is {@link GuestOutcome.Stopped}.
     * The machine can then be closed.
     */
    public void stop() throws InterruptedException {
        outcome.complete(new GuestOutcome.Stopped());
        for (Vcpu v : vcpus) {
            v.kick();
        }
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(2));
            if (t.isAlive()) {
                LOG.warn("{} did not stop", t.getName());
            }
        }
    }

    @Override
    public void close() {
        boolean running = threads.stream().anyMatch(Thread::isAlive);
        if (running) {
            // A vCPU still in KVM_RUN keeps using its kvm_run page and guest RAM: leave them mapped.
            LOG.warn("vCPU threads still running; not releasing VM resources");
            return;
        }
        closeAll(kvm, vm, memory, vcpuFds, virtio);
    }

    private static void closeAll(Kvm kvm, VmFd vm, GuestMemory memory, List<VcpuFd> vcpus,
                                 List<VirtioMmioSlot> virtio) {
        VirtioDevices.closeAll(virtio);
        vcpus.forEach(VcpuFd::close);
        if (vm != null) {
            vm.close();
        }
        if (memory != null && virtio.stream().noneMatch(VirtioMmioSlot::stuck)) {
            memory.close();
        } else if (memory != null) {
            // A device thread stuck in a backend call may still write guest RAM: leave it mapped.
            LOG.warn("a virtio device thread is still running; not releasing guest RAM");
        }
        kvm.close();
    }
}
