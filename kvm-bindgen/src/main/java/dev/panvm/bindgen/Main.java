package dev.panvm.bindgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * kvm-bindgen: generates {@code KvmStructs}, {@code KvmIoctls} and {@code KvmConstants} from
 * {@code <linux/kvm.h>}. gcc only preprocesses; parsing, layout and evaluation are done here.
 *
 * <pre>
 * java dev.panvm.bindgen.Main --out kvm-ffi/src/main/java [--check] [--cc gcc]
 * </pre>
 * With {@code --check} nothing is written; the exit status is 1 if a file would change.
 */
public final class Main {
    static final String HEADER = "/usr/include/linux/kvm.h";
    private static final String INCLUDE = "#include <linux/kvm.h>\n";

    private Main() {}

    public static void main(String[] args) {
        Path out = null;
        boolean check = false;
        String cc = "gcc";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(argument(args, ++i));
                case "--cc" -> cc = argument(args, ++i);
                case "--check" -> check = true;
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (out == null) {
            usage("--out is required");
        }
        try {
            Map<String, String> files = generate(
                    run(cc, "-E", "-P"), run(cc, "-E", "-dM"), packageVersion());
            Path dir = out.resolve(Emitter.PACKAGE.replace('.', '/'));
            System.exit(check ? check(dir, files) : write(dir, files));
        } catch (BindgenException e) {
            System.err.println("kvm-bindgen: " + e.getMessage());
            System.exit(1);
        } catch (IOException e) {
            System.err.println("kvm-bindgen: " + e);
            System.exit(1);
        }
    }

    /** The whole pipeline: preprocessed declarations and macro dump in, file name to Java source out. */
    static Map<String, String> generate(String preprocessed, String macroDump, String packageVersion) {
        Parser unit = Parser.parseTranslationUnit(preprocessed);
        Defines defines = new Defines(macroDump, unit);
        Emitter emitter = new Emitter(HEADER, packageVersion);
        String structs = emitter.structs(Wanted.STRUCTS, defines.layouts());
        String ioctls = emitter.ioctls(Wanted.IOCTLS.stream().map(defines::ioctl).toList());
        String constants = emitter.constants(constants(defines));
        return Emitter.files(structs, ioctls, constants);
    }

    /** The constants of {@link Wanted}: listed names first, then each prefix's matches by name. */
    static List<Emitter.Constant> constants(Defines defines) {
        List<String> names = new ArrayList<>();
        for (String name : Wanted.CONSTANTS) {
            if (defines.macro(name) == null) {
                throw new BindgenException("constant " + name + " is not defined by the headers");
            }
            names.add(name);
        }
        for (String name : Wanted.OPTIONAL_CONSTANTS) {
            if (defines.macro(name) != null) {
                names.add(name);
            }
        }
        for (String prefix : Wanted.CONSTANT_PREFIXES) {
            defines.names().stream()
                    .filter(n -> n.startsWith(prefix) && defines.macro(n).parameters() == null && !names.contains(n))
                    .sorted(Comparator.naturalOrder())
                    .forEach(names::add);
        }
        List<Emitter.Constant> constants = new ArrayList<>();
        for (String name : names) {
            constants.add(new Emitter.Constant(name, defines.value(name), defines.macro(name).source()));
        }
        for (String prefix : Wanted.ENUMERATOR_PREFIXES) {
            for (String name : defines.enumerators()) {
                if (name.startsWith(prefix) && defines.isEnumerator(name)) {
                    constants.add(new Emitter.Constant(name, defines.value(name), "enumerator " + name));
                }
            }
        }
        return constants;
    }

    private static int write(Path dir, Map<String, String> files) throws IOException {
        Files.createDirectories(dir);
        for (var file : files.entrySet()) {
            Files.writeString(dir.resolve(file.getKey()), file.getValue(), StandardCharsets.UTF_8);
            System.out.println("kvm-bindgen: wrote " + dir.resolve(file.getKey()));
        }
        return 0;
    }

    private static int check(Path dir, Map<String, String> files) throws IOException {
        int status = 0;
        for (var file : files.entrySet()) {
            Path path = dir.resolve(file.getKey());
            if (!Files.exists(path) || !Files.readString(path, StandardCharsets.UTF_8).equals(file.getValue())) {
                System.err.println("kvm-bindgen: " + path + " is not up to date");
                status = 1;
            }
        }
        if (status == 0) {
            System.out.println("kvm-bindgen: generated sources are up to date");
        }
        return status;
    }

    /** Runs the C preprocessor with {@code flags} on {@code #include <linux/kvm.h>}. */
    static String run(String cc, String... flags) throws IOException {
        Path source = Files.createTempFile("kvm-bindgen", ".c");
        try {
            Files.writeString(source, INCLUDE);
            List<String> command = new ArrayList<>(List.of(cc));
            command.addAll(List.of(flags));
            command.add(source.toString());
            return exec(command);
        } finally {
            Files.deleteIfExists(source);
        }
    }

    /** linux-libc-dev's version from dpkg, or null where there is no dpkg. */
    private static String packageVersion() {
        try {
            String v = exec(List.of("dpkg-query", "-W", "-f=${Version}", "linux-libc-dev")).strip();
            return v.isEmpty() ? null : v;
        } catch (IOException | BindgenException e) {
            return null;
        }
    }

    private static String exec(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        var stderr = new java.io.ByteArrayOutputStream();
        Thread drain = Thread.ofVirtual().start(() -> {
            try {
                p.getErrorStream().transferTo(stderr);
            } catch (IOException ignored) {
                // the exit status tells
            }
        });
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new BindgenException(String.join(" ", command) + " timed out");
            }
            drain.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BindgenException("interrupted", e);
        }
        if (p.exitValue() != 0) {
            throw new BindgenException(String.join(" ", command) + " failed (exit " + p.exitValue() + "):\n"
                    + stderr.toString(StandardCharsets.UTF_8));
        }
        return stdout;
    }

    private static String argument(String[] args, int i) {
        if (i >= args.length) {
            usage(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("kvm-bindgen: " + problem);
        System.err.println("usage: java dev.panvm.bindgen.Main --out <java source root> [--check] [--cc <gcc>]");
        System.exit(2);
    }
}
