package dev.panvm.bench;

import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.api.QemuMicrovm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * ferrite as a user starts it: a VMM process ({@code scripts/panvm run}, with the AOT cache
 * scripts/build trained, or {@code qemu-system-x86_64}), its serial console on the process's
 * standard output. For the figures that include the process itself: start-up and memory.
 */
final class GuestProcess implements AutoCloseable {
    private final String vmm;
    private final Process process;
    /** The process running the VM: the VMM's, or for a run through 'panvm serve' its worker's. */
    private final long vmmPid;
    private final BufferedReader serial;
    private final StringBuilder seen = new StringBuilder();

    private GuestProcess(String vmm, Process process, long vmmPid) {
        this.vmm = vmm;
        this.process = process;
        this.vmmPid = vmmPid;
        this.serial = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /**
     * Starts ferrite with {@code cmdline}, one vCPU and {@link Subject#MEMORY} of RAM on {@code vmm};
     * "panvm-serve" runs it through {@code service}'s client, as {@code scripts/panvm run} does while
     * a service runs ({@code service} is null for the others).
     */
    static GuestProcess start(String vmm, String cmdline, PanvmService service) throws Exception {
        MachineConfig config = MachineConfig.builder(BenchEnv.ferrite()).cmdline(cmdline).memoryBytes(Subject.MEMORY).build();
        List<String> run = new ArrayList<>(List.of("run", "--kernel", config.kernel().toString(),
                "--mem", (Subject.MEMORY >> 20) + "M"));
        if (!cmdline.isEmpty()) {
            run.addAll(List.of("--cmdline", cmdline));
        }
        Long worker = null;
        List<String> command = switch (vmm) {
            case "panvm", "panvm-serve" -> {
                List<String> c = new ArrayList<>(List.of(BenchEnv.panvmLauncher().toString()));
                c.addAll(run);
                yield c;
            }
            case "qemu" -> QemuMicrovm.command(config, null);
            default -> throw new IllegalArgumentException("unknown vmm " + vmm);
        };
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
        if (vmm.equals("panvm-serve")) {
            worker = service.nextWorker().orElseThrow(() -> new IllegalStateException("no worker ready"));
            service.serve(pb);
        } else {
            // The cold path even if the user keeps a 'panvm serve' running.
            pb.environment().put("PANVM_NO_SERVICE", "1");
        }
        Process p = pb.start();
        p.getOutputStream().close();
        return new GuestProcess(vmm, p, worker != null ? worker : p.pid());
    }

    /** Reads the serial console up to the first line containing {@code text}. */
    String awaitLine(String text) throws IOException {
        String line;
        while ((line = serial.readLine()) != null) {
            seen.append(line).append('\n');
            if (line.contains(text)) {
                return line;
            }
        }
        throw new IOException(vmm + ": the console ended before a line with '" + text + "':\n" + seen);
    }

    /** Waits for the VMM to exit and checks that the guest ended it with status 0. */
    void awaitSuccess() throws Exception {
        serial.transferTo(java.io.Writer.nullWriter());
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(vmm + " did not exit");
        }
        // QEMU's isa-debug-exit reports the guest's value v as (v << 1) | 1.
        int success = vmm.equals("qemu") ? 1 : 0;
        if (process.exitValue() != success) {
            throw new IllegalStateException(vmm + " exited with status " + process.exitValue() + ":\n" + seen);
        }
    }

    /**
     * The VMM's resident memory outside guest RAM, in MiB: the Rss of every mapping of the
     * process, minus that of the guest RAM mapping (the anonymous mapping of exactly the guest's
     * RAM size, or up to 2 MiB more for alignment).
     */
    double residentBeyondGuestRamMiB() throws IOException {
        long total = 0;
        long guestRam = 0;
        long size = 0;
        boolean anonymous = false;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(vmmPid), "smaps"))) {
            String[] f = line.trim().split("\\s+");
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = f[0].split("-");
                size = Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
                anonymous = f.length < 6 || f[5].equals("[anon]");
            } else if (f[0].equals("Rss:")) {
                long bytes = Long.parseLong(f[1]) << 10;
                total += bytes;
                if (anonymous && size >= Subject.MEMORY && size <= Subject.MEMORY + (2 << 20)) {
                    guestRam += bytes;
                }
            }
        }
        return (total - guestRam) / (double) (1 << 20);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }
}
