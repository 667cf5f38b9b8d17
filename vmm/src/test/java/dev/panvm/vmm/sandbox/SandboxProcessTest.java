package dev.panvm.vmm.sandbox;

import dev.panvm.vmm.JarredClassPath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * panvm's sandbox in a real process ({@link SandboxProbe}), no KVM needed: the JVM and the device
 * models keep working under it for seconds (threads, garbage collection, JIT, the virtio-blk
 * model with I/O threads, sockets, eventfds, signal kicks), and files, processes and sockets
 * are refused. The same probe without the sandbox is allowed all three, so the checks can fail.
 */
class SandboxProcessTest {
    @TempDir
    Path dir;

    private String probe(String mode) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED", "-Xmx128m",
                "-cp", JarredClassPath.get(), SandboxProbe.class.getName(), mode, dir.toString(), "2"))
                .redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe ended");
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("probe done"), text);
        return text;
    }

    private static long count(String text, String what) {
        Matcher m = Pattern.compile(what + " (\\d+)").matcher(text);
        assertTrue(m.find(), "no '" + what + "' in:\n" + text);
        return Long.parseLong(m.group(1));
    }

    @Test
    void theJvmAndTheDeviceModelsKeepWorkingAndFilesProcessesAndSocketsAreRefused() throws Exception {
        String text = probe("enforce");
        assertTrue(text.contains("sandbox installed"), text);
        assertTrue(count(text, "block requests") > 0, text);
        assertTrue(count(text, "console rounds") > 0, text);
        assertTrue(count(text, "eventfd rounds") > 0, text);
        assertTrue(text.contains("kicked a blocked thread"), text);
        assertTrue(count(text, "timer ticks") > 100, text);
        assertTrue(text.contains("old class file loaded: Ansi"), text);
        for (String forbidden : new String[] {"open", "exec", "socket"}) {
            Matcher m = Pattern.compile("forbidden " + forbidden + ": (\\w+)(.*)").matcher(text);
            assertTrue(m.find(), text);
            assertEquals("denied", m.group(1), forbidden + m.group(2));
            assertTrue(m.group(2).contains("Operation not permitted"), forbidden + m.group(2));
        }
        assertFalse(Files.exists(dir.resolve("new-file")), "no file was created");
    }

    @Test
    void withoutTheSandboxTheSameAttemptsSucceed() throws Exception {
        String text = probe("record");
        for (String forbidden : new String[] {"open", "exec", "socket"}) {
            assertTrue(text.contains("forbidden " + forbidden + ": allowed"), text);
        }
        assertTrue(Files.exists(dir.resolve("new-file")));
    }
}
