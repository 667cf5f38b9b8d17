package dev.panvm.bench;


import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.panvm.vmm.api.HostKind;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a benchmark run ran on, written next to JMH's results so that every figure names its host:
 * the kind of KVM (PVM, software virtualization, or hardware KVM), the CPU, core count, JDK, QEMU
 * version, the commit measured (with {@code -dirty} for uncommitted changes), the plan, and how
 * much CPU time the hypervisor under this machine took from it during the run ({@code stealPercent},
 * from /proc/stat; null when unknown): on shared machines that is what makes a run noisy.
 */
public record RunInfo(String host, String cpu, int cores, String kernel, String jdk, String qemu, String commit,
                      String plan, String started, String ended, Double stealPercent) {

    /** This machine at the start of a run; {@link Start#finish} completes it at the end. */
    record Start(RunInfo info, long[] cpuTimes) {
        RunInfo finish() {
            long[] now = readCpuTimes();
            Double steal = null;
            long total = Arrays.stream(now).sum() - Arrays.stream(cpuTimes).sum();
            if (now.length > 7 && cpuTimes.length > 7 && total > 0) {
                steal = 100.0 * (now[7] - cpuTimes[7]) / total;
            }
            return new RunInfo(info.host, info.cpu, info.cores, info.kernel, info.jdk, info.qemu, info.commit,
                    info.plan, info.started, Instant.now().toString(), steal);
        }
    }

    /** Looks at this machine now. */
    static Start probe(Path root, String plan) {
        RunInfo info = new RunInfo(HostKind.detect().description(), cpuModel(), Runtime.getRuntime().availableProcessors(),
                firstLine(List.of("uname", "-r")), "JDK " + Runtime.version(),
                firstLine(List.of("qemu-system-x86_64", "--version")), commit(root), plan, Instant.now().toString(),
                null, null);
        return new Start(info, readCpuTimes());
    }

    /** The first line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal, ... (ticks). */
    private static long[] readCpuTimes() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
            return Arrays.stream(f, 1, Math.min(f.length, 9)).mapToLong(Long::parseLong).toArray();
        } catch (IOException | RuntimeException e) {
            return new long[0];
        }
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String commit(Path root) {
        String head = firstLine(List.of("git", "-C", root.toString(), "rev-parse", "--short", "HEAD"));
        String dirty = firstLine(List.of("git", "-C", root.toString(), "status", "--porcelain", "--untracked-files=no"));
        return dirty.isEmpty() || dirty.equals("unknown") ? head : head + "-dirty";
    }

    /** The first line a command prints, or "unknown" when it cannot run. */
    private static String firstLine(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return "unknown";
            }
            return out.lines().findFirst().orElse("").strip();
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    void write(Path file) throws IOException {
        JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValue(file.toFile(), this);
    }

    static RunInfo read(Path file) throws IOException {
        return JsonMapper.builder().build().readValue(file.toFile(), RunInfo.class);
    }
}
