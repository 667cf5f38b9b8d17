package dev.panvm.bench;

import dev.panvm.vmm.GuestOutcome;
import dev.panvm.vmm.Machine;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.MachineException;
import dev.panvm.vmm.boot.BootProtocol;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.file.Path;
import java.time.Duration;

/** The bench guest on panvm, in this JVM; its serial output arrives through a pipe. */
final class PanvmGuest implements GuestUnderTest {
    private static final byte[] GO = {'g'};
    private static final byte[] QUIT = {'q'};

    private final Machine machine;
    private final InputStream serialOut;
    private final long exitsPerBatch;
    private long batches;

    PanvmGuest(Path kernel, String cmdline, long exitsPerBatch) throws IOException, MachineException {
        Pipe pipe = Pipe.open();
        this.serialOut = Channels.newInputStream(pipe.source());
        this.exitsPerBatch = exitsPerBatch;
        this.machine = Machine.create(new MachineConfig(kernel, cmdline, 256L << 20, 1, BootProtocol.DIRECT,
                Channels.newOutputStream(pipe.sink())));
        machine.start();
        SerialProtocol.awaitLine(serialOut, READY);
    }

    @Override
    public void batch() throws IOException {
        machine.serial().receive(GO, 1);
        SerialProtocol.awaitByte(serialOut, 'k');
        batches++;
    }

    @Override
    public int quit() throws InterruptedException {
        machine.serial().receive(QUIT, 1);
        GuestOutcome o = machine.awaitOutcome(Duration.ofSeconds(30));
        // Every batch must have reached the POST-code port: the benchmark measured real exits.
        if (machine.postCodes().writes() != batches * exitsPerBatch) {
            throw new IllegalStateException("expected " + batches * exitsPerBatch + " port writes, saw "
                    + machine.postCodes().writes());
        }
        return o instanceof GuestOutcome.Exited e ? e.status() : -1;
    }

    @Override
    public void close() {
        machine.close();
    }
}
