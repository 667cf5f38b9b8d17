package dev.panvm.vmm.cli.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.vmm.cli.Panvm;
import dev.panvm.virtio.fuzz.Watchdog;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The VM config file parser ({@code VmConfigJson}, package-private, reached by reflection) and
 * {@code panvm run}'s command line with it, both only as far as {@code --print-config}: nothing
 * is ever booted.
 *
 * <p>{@link #configFile}: the input's bytes are a config file (not always UTF-8, not always
 * JSON) in a directory holding a kernel and two images; it is read, the VM configuration built,
 * and on success printed, read back and printed again. Oracles: the only failure is a
 * {@code ConfigException}, whose message is one line starting with the file's name (vmm/CONFIG.md:
 * "Every error is one line naming the file, the field and the problem") and whose exit status
 * is 2 or 125; a configuration that builds prints to a file that reads back to an equal
 * configuration and the same text (CONFIG.md: "Saved to a file, its output reads back to the
 * same machine"); every call returns in bounded time.
 *
 * <p>{@link #commandLine}: {@code panvm run --print-config} with up to 8 fuzzed options (names
 * and values, meaningful ones favoured) and, half the time, one of three config files (complete,
 * minimal, broken). Oracles: exit status 0, 2 or 125 (1 would be an exception escaping
 * {@code call()}); an error panvm reports itself is one line; output that is a configuration
 * reads back through {@code --config} to the same output.
 */
class VmConfigFuzzTest {
    private static final Path DIR;
    private static final MethodHandle READ;
    private static final MethodHandle WRITE;
    private static final MethodHandle NEW_BUILDER;
    private static final MethodHandle BUILD;
    private static final MethodHandle EXIT_STATUS;
    private static final Class<?> CONFIG_EXCEPTION;
    private static final String[] CONFIGS = {"full.json", "minimal.json", "broken.json"};

    static {
        try {
            Path shm = Path.of("/dev/shm");
            DIR = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")), "panvm-fuzz-config");
            Files.write(DIR.resolve("kernel"), new byte[] {0x7f, 'E', 'L', 'F'});
            Files.write(DIR.resolve("root.img"), new byte[512]);
            Files.createDirectories(DIR.resolve("sub"));
            Files.write(DIR.resolve("sub/data.img"), new byte[512]);
            Files.writeString(DIR.resolve("full.json"), """
                    {"boot-source": {"kernel_image_path": "kernel", "boot_args": "ctl=console", "boot_protocol": "pvh"},
                     "machine-config": {"vcpu_count": 2, "mem_size_mib": 64},
                     "drives": [{"drive_id": "root", "path_on_host": "root.img", "is_read_only": true},
                                {"drive_id": "none", "null_size": "1G"}],
                     "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "52:54:00:12:34:56"}],
                     "rng": {"enabled": true}, "console": {"mode": "unix", "path": "ctl.sock"},
                     "serial": {"mode": "file", "path": "com1.log"}, "limits": {"timeout_s": 30}}
                    """);
            Files.writeString(DIR.resolve("minimal.json"), "{\"boot-source\": {\"kernel_image_path\": \"kernel\"}}");
            Files.writeString(DIR.resolve("broken.json"), "{\"boot-source\": {\"kernel\": 1}}");
            Runtime.getRuntime().addShutdownHook(new Thread(VmConfigFuzzTest::removeDir));

            Class<?> json = Class.forName("dev.panvm.vmm.cli.VmConfigJson");
            Class<?> config = Class.forName("dev.panvm.vmm.cli.VmConfig");
            Class<?> builder = Class.forName("dev.panvm.vmm.cli.VmConfig$Builder");
            CONFIG_EXCEPTION = Class.forName("dev.panvm.vmm.cli.ConfigException");
            MethodHandles.Lookup l = MethodHandles.privateLookupIn(json, MethodHandles.lookup());
            READ = l.findStatic(json, "read", MethodType.methodType(void.class, Path.class, builder));
            WRITE = l.findStatic(json, "write", MethodType.methodType(String.class, config));
            NEW_BUILDER = l.findConstructor(builder, MethodType.methodType(void.class));
            BUILD = l.findVirtual(builder, "build", MethodType.methodType(config));
            EXIT_STATUS = l.findVirtual(CONFIG_EXCEPTION, "exitStatus", MethodType.methodType(int.class));
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static void removeDir() {
        try (var files = Files.walk(DIR)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // a temporary directory left behind
        }
    }

    @FuzzTest
    void configFile(FuzzedDataProvider in) throws Throwable {
        byte[] text = in.consumeRemainingAsBytes();
        Watchdog.input(() -> {
            Path file = DIR.resolve("vm.json");
            Files.write(file, text);
            Object config;
            try {
                config = Watchdog.call("read and build", () -> build(file));
            } catch (Throwable e) {
                checkConfigException(e, file.toString());
                return;
            }
            String printed = (String) WRITE.invoke(config);
            Path again = DIR.resolve("printed.json");
            Files.writeString(again, printed);
            Object reread;
            try {
                reread = build(again);
            } catch (Throwable e) {
                throw new AssertionError("printed configuration does not read back: " + e.getMessage() + "\n" + printed, e);
            }
            assertEquals(config, reread, "printed configuration reads back to another machine:\n" + printed);
            assertEquals(printed, (String) WRITE.invoke(reread), "printing is not stable");
        });
    }

    private static Object build(Path file) throws Throwable {
        Object b = NEW_BUILDER.invoke();
        READ.invoke(file, b);
        return BUILD.invoke(b);
    }

    private static void checkConfigException(Throwable e, String fileName) throws Throwable {
        if (!CONFIG_EXCEPTION.isInstance(e)) {
            throw e;
        }
        String m = e.getMessage();
        assertTrue(m != null && !m.isEmpty(), "empty error");
        assertEquals(1, m.lines().count(), "an error of more than one line: " + m);
        assertFalse(m.chars().anyMatch(c -> c < 0x20 || c == 0x7f), "control characters in an error: " + m);
        assertTrue(m.startsWith(fileName + ": ") || m.startsWith("--config " + fileName + ": ")
                || m.startsWith("kernel: ") || m.startsWith("devices: "), "an error that does not name the file: " + m);
        int status = (int) EXIT_STATUS.invoke(e);
        assertTrue(status == 2 || status == 125, "exit status " + status + " for " + m);
    }

    // ---- the command line ----

    private static final String[] OPTIONS = {
            "--kernel", "--cmdline", "--mem", "--cpus", "--serial", "--boot", "--disk", "--net", "--rng", "--console",
            "--timeout", "--rng=false", "--rng=true", "--disk=none", "--net=none", "--help", "--version", "-h", "-V",
            "--print-config", "--", "-", "--bogus", "help"};
    private static final String[] VALUES = {
            "kernel", "nope", "", "512M", "16M", "15M", "2G", "1", "0", "64", "65", "-1", "direct", "pvh", "bios",
            "null:1G", "null:0", "root.img", "root.img,ro", "root.img,rw", "none", "tap:tap0", "tap:tap0,mac=52:54:00:12:34:56",
            "tap:tap0,mac=01:00:00:00:00:00", "tap:", "tap:a/b", "unix:ctl.sock", "unix:", "stdio", "file:out.log", "file:",
            "stdout", "30", "315360001", "workload=pipe ctl=console", "true", "false", "9223372036854775807K"};

    @FuzzTest
    void commandLine(FuzzedDataProvider in) throws Throwable {
        List<String> args = new ArrayList<>(List.of("run", "--print-config")); // first: nothing ever boots
        if (in.consumeBoolean()) {
            args.add("--config");
            args.add(DIR.resolve(in.pickValue(CONFIGS)).toString());
        }
        for (int n = in.consumeInt(0, 8); n > 0; n--) {
            String option = in.consumeInt(0, 7) == 0 ? in.consumeString(24) : in.pickValue(OPTIONS);
            // --config is the harness's alone (a fuzzed one could name /dev/stdin); so are @argument files.
            args.add(harmless(option));
            if (in.consumeInt(0, 7) != 0) {
                args.add(harmless(in.consumeInt(0, 3) == 0 ? in.consumeString(40) : in.pickValue(VALUES)));
            }
        }
        Watchdog.input(() -> {
            Result r = Watchdog.call("panvm " + args, () -> run(args));
            assertTrue(r.status == 0 || r.status == 2 || r.status == 125, "exit status " + r.status + " for " + args + "\n" + r.err);
            if (r.err.startsWith("panvm: ")) {
                assertEquals(1, r.err.strip().lines().count(), "an error of more than one line for " + args + ":\n" + r.err);
            }
            if (r.status == 0 && r.out.startsWith("{")) {
                Path printed = DIR.resolve("cli.json");
                Files.writeString(printed, r.out);
                Result again = run(List.of("run", "--print-config", "--config", printed.toString()));
                assertEquals(0, again.status, "printed configuration does not read back: " + again.err + "\n" + r.out);
                assertEquals(r.out, again.out, "printed configuration reads back to another one");
            }
        });
    }

    /** A fuzzed argument as a real argv can hold it (no NUL), never a --config or @file of the fuzzer's. */
    private static String harmless(String arg) {
        return arg.startsWith("--config") || arg.startsWith("@") ? "x" : arg.replace('\0', ' ');
    }

    private record Result(int status, String out, String err) {
    }

    private static Result run(List<String> args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Panvm());
        cli.setExpandAtFiles(false);
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int status = cli.execute(args.toArray(String[]::new));
        if (status == 1 && err.toString().isEmpty()) {
            fail("exit status 1 without a message");
        }
        return new Result(status, out.toString(), err.toString());
    }
}
