package dev.panvm.vmm;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * ferrite's network driver over panvm's virtio-net and a TAP device, in a network namespace the
 * test creates (link-local 169.254.0.0/16 addresses only): the host pings ferrite, ferrite pings
 * the host; the same against QEMU's virtio-net. Needs root and iproute2/iputils-ping (installed
 * by .ci/run).
 */
class FerriteNetKvmTest {
    private static final String NS = "panvm-test-" + ProcessHandle.current().pid();
    private static final String HOST_IP = "169.254.77.1";
    private static final String GUEST_IP = "169.254.77.2";

    @BeforeEach
    void createNamespace() throws Exception {
        KvmTestSupport.assumeKvm();
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create a network namespace");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ping")) || Files.isExecutable(Path.of("/bin/ping")),
                "ping is not installed (apt-get install iputils-ping)");
        assumeTrue(sh("ip", "netns", "add", NS) == 0, "cannot create a network namespace");
        assertEquals(0, sh("ip", "-n", NS, "tuntap", "add", "dev", "tap0", "mode", "tap"));
        assertEquals(0, sh("ip", "-n", NS, "addr", "add", HOST_IP + "/16", "dev", "tap0"));
        assertEquals(0, sh("ip", "-n", NS, "link", "set", "tap0", "up"));
    }

    @AfterEach
    void deleteNamespace() throws Exception {
        sh("ip", "netns", "del", NS);
    }

    private static int sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor();
    }

    /** A VMM in the namespace, as a child process, with ferrite on the TAP device. */
    private static Process vmmInNamespace(String vmm, String cmdline) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", NS));
        if (vmm.equals("panvm")) {
            cmd.addAll(KvmTestSupport.panvmCommand("--timeout", "60", "--net", "tap:tap0", "--cmdline", cmdline));
        } else {
            KvmTestSupport.assumeQemu();
            cmd.addAll(FerriteQemuKvmTest.qemuCommand(KvmTestSupport.ferrite(), cmdline,
                    "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", "virtio-net-device,netdev=n0"));
        }
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private static String readAll(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "panvm ended");
        return out + "\nexit status " + p.exitValue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void hostPingsFerrite(String vmm) throws Exception {
        Process vm = vmmInNamespace(vmm, "workload=pingd ip=" + GUEST_IP + "/16 duration_ms=20000");
        BufferedReader out = new BufferedReader(new InputStreamReader(vm.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null && !line.startsWith("virtio: net")) {
            seen.append(line).append('\n');
        }
        assertTrue(line != null, "no virtio-net device in:\n" + seen);
        Process ping = new ProcessBuilder("ip", "netns", "exec", NS, "ping", "-c", "3", "-W", "2", GUEST_IP)
                .redirectErrorStream(true).start();
        String pingOut = new String(ping.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = ping.waitFor();
        vm.destroyForcibly();
        assertEquals(0, status, pingOut);
        assertTrue(pingOut.contains("3 received"), pingOut);
    }

    @ParameterizedTest
    @ValueSource(strings = {"panvm", "qemu"})
    void ferritePingsTheHost(String vmm) throws Exception {
        String out = readAll(vmmInNamespace(vmm, "workload=ping ip=" + GUEST_IP + "/16 ping=" + HOST_IP + " count=3"));
        int success = vmm.equals("panvm") ? 0 : 1; // QEMU reports debug-exit 0 as 1
        assertTrue(out.contains("\"workload\":\"ping\"") && out.contains("exit status " + success), out);
        assertTrue(out.contains("\"received\":3"), out);
    }
}
