package dev.panvm.vmm.api;

import dev.panvm.vmm.KvmTestSupport;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding example README shows (examples/TwoWorkloads.java) runs as a user runs it, with
 * Java's source launcher, and README shows it verbatim.
 */
class ExampleKvmTest {
    private static final Path ROOT = KvmTestSupport.ferrite().toAbsolutePath().normalize().getParent().getParent().getParent();
    private static final Path EXAMPLE = ROOT.resolve("examples/TwoWorkloads.java");

    @Test
    void readmeShowsTheExampleAsItIs() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        String example = Files.readString(EXAMPLE);
        assertTrue(readme.contains("```java\n" + example + "```\n"), "README.md must show examples/TwoWorkloads.java verbatim");
    }

    @Test
    void theExampleBootsFerriteAndRunsTwoWorkloads() throws Exception {
        KvmTestSupport.assumeKvm();
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), EXAMPLE.toString()))
                .directory(ROOT.toFile()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the example did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.matches("(?s)[0-9.]+ ns per pipe round trip across CPUs, [0-9.]+ ns per kmalloc\\+kfree.*"), out);
        assertTrue(out.contains("Exited[status=0]"), out);
    }
}
