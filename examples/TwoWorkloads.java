import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.api.RunningVm;
import dev.panvm.vmm.api.Vmm;
import dev.panvm.vmm.devices.console.ConsoleTarget;

import java.nio.file.Path;
import java.time.Duration;

/** Boots ferrite in panvm, runs two workloads in the one VM through its control channel, ends it. */
public class TwoWorkloads {
    public static void main(String[] args) throws Exception {
        MachineConfig config = MachineConfig.builder(Path.of("guest-kernel/target/ferrite"))
                .cmdline("ctl=console").cpus(2).console(new ConsoleTarget.InProcess()).build();
        try (RunningVm vm = Vmm.PANVM.start(config, Duration.ofSeconds(30))) {
            ObjectNode pipe = vm.control().run("pipe", "ops=100000 pin=split", Duration.ofMinutes(1));
            ObjectNode kmalloc = vm.control().run("kmalloc", "ops=1000000 threads=2", Duration.ofMinutes(1));
            System.out.println(pipe.get("ns_per_op") + " ns per pipe round trip across CPUs, "
                    + kmalloc.get("ns_per_op") + " ns per kmalloc+kfree on each of 2 CPUs");
            vm.control().exit(0, Duration.ofSeconds(10));
            System.out.println(vm.awaitOutcome(Duration.ofSeconds(10)));
        }
    }
}
