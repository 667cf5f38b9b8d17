package dev.panvm.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The bench guest on QEMU microvm with KVM, the peer: same image, same protocol over stdio. */
final class QemuGuest implements GuestUnderTest {
    private final Process qemu;
    private final InputStream serialOut;
    private final OutputStream serialIn;

    QemuGuest(Path kernel, String cmdline) throws IOException {
        List<String> command = List.of("qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
                "-cpu", "host,-arch-capabilities", "-smp", "1", "-m", "256M",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel.toString(), "-append", cmdline);
        qemu = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        serialOut = qemu.getInputStream();
        serialIn = qemu.getOutputStream();
        SerialProtocol.awaitLine(serialOut, READY);
    }

    private void send(int b) throws IOException {
        serialIn.write(b);
        serialIn.flush();
    }

    @Override
    public void batch() throws IOException {
        send('g');
        SerialProtocol.awaitByte(serialOut, 'k');
    }

    @Override
    public int quit() throws IOException, InterruptedException {
        send('q');
        if (!qemu.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("QEMU did not exit after 'q'");
        }
        // isa-debug-exit: status (v << 1) | 1; report v, as panvm does.
        return qemu.exitValue() >> 1;
    }

    @Override
    public void close() {
        qemu.destroyForcibly();
    }
}
