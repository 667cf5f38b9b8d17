package dev.panvm.vmm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Shared by the KVM tests: skip without /dev/kvm, find the ferrite image, capture serial output. */
public final class KvmTestSupport {
    private KvmTestSupport() {}

    /** Skips the calling test, with the reason, when this host cannot run KVM guests. */
    public static void assumeKvm() {
        Path kvm = Path.of("/dev/kvm");
        assumeTrue(Files.exists(kvm), "no /dev/kvm on this host (KVM tests need hardware KVM or PVM)");
        assumeTrue(Files.isReadable(kvm) && Files.isWritable(kvm), "/dev/kvm is not accessible to this user");
    }

    /** The reference VMM's binary. */
    public static final String QEMU = "qemu-system-x86_64";

    /** Skips the calling test when KVM or QEMU is missing. */
    public static void assumeQemu() {
        assumeKvm();
        assumeQemuInstalled();
    }

    /** For tests that run QEMU without KVM (TCG). */
    public static void assumeQemuInstalled() {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            found |= Files.isExecutable(Path.of(dir, QEMU));
        }
        assumeTrue(found, QEMU + " is not installed (apt-get install qemu-system-x86)");
    }

    /** The ferrite ELF built by scripts/build-ferrite; fails (not skips) when it was not built. */
    public static Path ferrite() {
        Path p = Path.of(System.getProperty("ferrite.kernel", "../guest-kernel/target/ferrite"));
        assertTrue(Files.isRegularFile(p), "ferrite is not built at " + p.toAbsolutePath() + ": run scripts/build-ferrite");
        return p;
    }

    /**
     * The command line of {@code panvm run} with ferrite and {@code args}, as a separate process
     * (for tests that kill it, run it in another network namespace, or check its sandbox): this
     * JVM's java and class path with its directories in jars ({@link JarredClassPath}), so it
     * needs no packaged panvm.jar and runs in the sandbox as the packaged one does.
     */
    public static List<String> panvmCommand(String... args) {
        String javaBinary = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(javaBinary, "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED",
                "-cp", JarredClassPath.get(), "dev.panvm.vmm.cli.Panvm", "run",
                "--kernel", ferrite().toString(), "--mem", "128M"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** The first line of {@code serialText} that is ferrite's JSON result for {@code workload}. */
    public static String resultLine(String serialText, String workload) {
        return serialText.lines().map(String::strip).filter(l -> l.startsWith("{\"workload\":\"" + workload + "\""))
                .findFirst().orElseThrow(() -> new AssertionError("no " + workload + " result in:\n" + serialText));
    }

    /** Parses one JSON object strictly (no duplicate keys, nothing after it); fails the test if malformed. */
    public static JsonNode parseJson(String line) {
        try {
            JsonNode node = JSON.readTree(line);
            assertTrue(node != null && node.isObject(), "not a JSON object: " + line);
            return node;
        } catch (JsonProcessingException e) {
            throw new AssertionError("malformed JSON (" + e.getOriginalMessage() + "): " + line, e);
        }
    }

    /** The path of an e2fsprogs tool (mke2fs, debugfs, e2fsck); fails when e2fsprogs is missing. */
    public static String e2fsprogs(String tool) {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin")) {
            Path candidate = Path.of(dir, tool);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new AssertionError(tool + " not found: install e2fsprogs");
    }

    /** True on a PVM host (kvm_pvm), where ferrite must switch itself into PVM native mode. */
    public static boolean pvmHost() {
        return dev.panvm.vmm.api.HostKind.detect() == dev.panvm.vmm.api.HostKind.PVM;
    }

    /**
     * Checks a {@code bench=loop} result line: kernel code ran natively. This is a check of the
     * execution mode, not a speed claim: natively the loop takes ~0.3 ns per iteration, in
     * KVM's instruction emulator ~1000 ns; the bound sits 100x above the one and 20x below the
     * other. (Speed is measured in bench/.)
     */
    public static void assertNativeLoop(String output) {
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("\\{\"bench\":\"loop\",\"iterations\":(\\d+),\"elapsed_ns\":(\\d+),[^}]*\"mode\":\"([a-z-]+)\"")
                .matcher(output);
        assertTrue(m.find(), "no bench=loop result in:\n" + output);
        double nsPerIteration = Double.parseDouble(m.group(2)) / Double.parseDouble(m.group(1));
        assertTrue(nsPerIteration < 50, "kernel loop at " + nsPerIteration + " ns/iteration: emulated, not native");
        if (pvmHost()) {
            assertTrue(m.group(3).equals("pvm-native"), "on a PVM host ferrite must run in PVM native mode: " + m.group());
        }
    }

    /** A byte sink the vCPU thread writes and the test thread reads. */
    public static final class Capture extends OutputStream {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            buf.write(b);
        }

        public synchronized String text() {
            return buf.toString(StandardCharsets.UTF_8);
        }
    }
}
