package dev.panvm.vmm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code panvm} command. Exit status of {@code panvm run}: the guest's debug-exit value;
 * {@value RunCommand#EXIT_GUEST_CRASHED} if the guest crashed or timed out;
 * {@value RunCommand#EXIT_VMM_ERROR} if the VM could not be built (bad input, no KVM).
 */
@Command(name = "panvm", mixinStandardHelpOptions = true, versionProvider = Panvm.Version.class,
        description = "A virtual machine monitor on KVM, written in Java.",
        subcommands = {RunCommand.class, ServeCommand.class, WorkerCommand.class, CommandLine.HelpCommand.class})
public final class Panvm implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (try 'panvm run --help')");
    }

    public static void main(String[] args) {
        System.setProperty("panvm.log.level", System.getProperty("panvm.log.level", "WARN"));
        int status = commandLine().execute(args);
        System.out.flush();
        // vCPU threads that never left KVM_RUN must not keep the process alive.
        Runtime.getRuntime().halt(status);
    }

    /** The {@code panvm} command line, with its handler for internal errors. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Panvm());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("panvm: internal error: " + e);
            e.printStackTrace(cmd.getErr());
            return RunCommand.EXIT_VMM_ERROR;
        });
        return cli;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Panvm.class.getPackage().getImplementationVersion();
            return new String[] {"panvm " + (v == null ? "(development build)" : v)
                    + " on Java " + Runtime.version()};
        }
    }
}
