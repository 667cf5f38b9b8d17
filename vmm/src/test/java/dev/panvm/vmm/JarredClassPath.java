package dev.panvm.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * This JVM's class path with every directory (target/classes, target/test-classes) packed into
 * a jar, for child processes that run under panvm's sandbox: a sandboxed JVM cannot open class
 * files, and loads classes only from jars it opened before the sandbox went on, as a user's
 * {@code panvm.jar} is. Built once per test JVM, under {@code target/jarred-class-path}.
 */
public final class JarredClassPath {
    private JarredClassPath() {}

    private static String cached;

    /** The class path, as a string for {@code -cp}. */
    public static synchronized String get() {
        if (cached == null) {
            try {
                cached = build(Path.of("target", "jarred-class-path"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return cached;
    }

    private static String build(Path out) throws IOException {
        Files.createDirectories(out);
        List<String> entries = new ArrayList<>();
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            if (!Files.isDirectory(p)) {
                entries.add(entry);
                continue;
            }
            Path jar = out.resolve((n++) + "-" + p.getParent().getParent().getFileName() + "-" + p.getFileName() + ".jar");
            try (OutputStream file = Files.newOutputStream(jar); JarOutputStream zip = new JarOutputStream(file);
                 Stream<Path> files = Files.walk(p)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                    zip.putNextEntry(new JarEntry(p.relativize(f).toString().replace(java.io.File.separatorChar, '/')));
                    Files.copy(f, zip);
                    zip.closeEntry();
                }
            }
            entries.add(jar.toAbsolutePath().toString());
        }
        return String.join(java.io.File.pathSeparator, entries);
    }
}
