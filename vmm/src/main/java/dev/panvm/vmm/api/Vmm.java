package dev.panvm.vmm.api;

import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;

import java.time.Duration;

/**
 * The VMMs a {@link MachineConfig} can be started on: panvm in this process, or QEMU microvm,
 * the reference, as a child process with the same kernel, command line, memory and devices.
 *
 * <pre>{@code
 * MachineConfig config = MachineConfig.builder(Path.of("guest-kernel/target/ferrite"))
 *         .cmdline("ctl=console").cpus(2).console(new ConsoleTarget.InProcess()).build();
 * try (RunningVm vm = Vmm.PANVM.start(config, Duration.ofSeconds(30))) {
 *     ObjectNode pipe = vm.control().run("pipe", "ops=100000", Duration.ofMinutes(1));
 *     System.out.println(pipe.get("ns_per_op"));
 * }
 * }</pre>
 */
public enum Vmm {
    PANVM("panvm"),
    QEMU("qemu");

    private final String id;

    Vmm(String id) {
        this.id = id;
    }

    /** {@code "panvm"} or {@code "qemu"}. */
    public String id() {
        return id;
    }

    /**
     * Builds and starts the VM; with an in-process console, also waits up to {@code boot} for the
     * guest's control channel to be ready.
     */
    public RunningVm start(MachineConfig config, Duration boot) throws MachineException {
        return switch (this) {
            case PANVM -> PanvmVm.start(config, boot);
            case QEMU -> QemuMicrovm.start(config, boot);
        };
    }

    /** {@code panvm} or {@code qemu}, as the benchmarks' parameters name them. */
    public static Vmm of(String id) {
        for (Vmm v : values()) {
            if (v.id.equals(id)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown VMM '" + id + "' (panvm or qemu)");
    }
}
