package dev.panvm.vmm.api;

/**
 * The guest answered a command with an error ({@code {"error":"..."}}): an unknown command or
 * workload, a bad parameter. The guest keeps serving; the channel stays usable.
 */
public final class GuestCommandException extends Exception {
    private final String command;

    public GuestCommandException(String command, String message) {
        super(command + ": " + message);
        this.command = command;
    }

    /** The command that was refused. */
    public String command() {
        return command;
    }
}
