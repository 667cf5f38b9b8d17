package dev.panvm.vmm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import dev.panvm.vmm.devices.virtio.DeviceSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code panvm run --config}: flags over the file, {@code --print-config}, the committed example. */
class RunCommandConfigTest {
    @TempDir
    Path dir;
    private Path kernel;
    private Path image;

    @BeforeEach
    void files() throws Exception {
        kernel = dir.resolve("kernel");
        Files.write(kernel, new byte[] {0x7f, 'E', 'L', 'F'});
        image = dir.resolve("disk.img");
        Files.write(image, new byte[4096]);
    }

    private record Result(int status, String out, String err) {}

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Panvm());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int status = cli.execute(args);
        return new Result(status, out.toString(), err.toString());
    }

    /** The effective configuration of {@code panvm run ARGS}, without running anything. */
    private static VmConfig effective(String... args) throws ConfigException {
        CommandLine cli = new CommandLine(new Panvm());
        List<String> all = new ArrayList<>(List.of("run"));
        all.addAll(List.of(args));
        cli.parseArgs(all.toArray(String[]::new));
        RunCommand run = cli.getSubcommands().get("run").getCommand();
        return run.effectiveConfig();
    }

    private Path file(String json) throws Exception {
        Path p = dir.resolve("vm.json");
        Files.writeString(p, json);
        return p;
    }

    /** A file setting every section, for the override tests. */
    private Path fullFile() throws Exception {
        return file("""
                {
                  "boot-source": {"kernel_image_path": "kernel", "boot_args": "from=file", "boot_protocol": "pvh"},
                  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
                  "drives": [{"drive_id": "a", "path_on_host": "disk.img", "is_read_only": true},
                             {"drive_id": "b", "null_size": "1G"}],
                  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "52:54:00:00:00:01"}],
                  "rng": {"enabled": true},
                  "console": {"mode": "unix", "path": "ctl.sock"},
                  "serial": {"mode": "file", "path": "com1.log"},
                  "limits": {"timeout_s": 30}
                }""");
    }

    @Test
    void theFileAloneDescribesTheVm() throws Exception {
        VmConfig c = effective("--config", fullFile().toString());
        assertEquals(kernel, c.kernel());
        assertEquals("from=file", c.bootArgs());
        assertEquals(BootProtocol.PVH, c.boot());
        assertEquals(2, c.vcpus());
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(List.of(new DeviceSpec.Disk(image, true), new DeviceSpec.NullDisk(1L << 30),
                        new DeviceSpec.Tap("tap0", Optional.of("52:54:00:00:00:01")), new DeviceSpec.Rng(),
                        new DeviceSpec.Console(new ConsoleTarget.UnixSocket(dir.resolve("ctl.sock")))),
                c.deviceSpecs());
        assertEquals(Optional.of(dir.resolve("com1.log")), c.serialFile());
        assertEquals(30, c.timeoutSeconds());
    }

    @Test
    void scalarFlagsOverrideTheFile() throws Exception {
        Path other = dir.resolve("other-kernel");
        Files.write(other, new byte[] {1});
        VmConfig c = effective("--config", fullFile().toString(), "--kernel", other.toString(), "--cmdline", "from=flag",
                "--boot", "direct", "--cpus", "4", "--mem", "1G", "--serial", "stdout", "--timeout", "0");
        assertEquals(other, c.kernel());
        assertEquals("from=flag", c.bootArgs());
        assertEquals(BootProtocol.DIRECT, c.boot());
        assertEquals(4, c.vcpus());
        assertEquals(1L << 30, c.memoryBytes());
        assertEquals(Optional.empty(), c.serialFile());
        assertEquals(0, c.timeoutSeconds());
        // What the flags leave alone stays the file's.
        assertEquals(2, c.drives().size());
        assertEquals(1, c.nets().size());
        assertTrue(c.rng());
    }

    @Test
    void aKernelTheFileNamesNeedNotExistWhenAFlagReplacesIt() throws Exception {
        Path f = file("{\"boot-source\": {\"kernel_image_path\": \"elsewhere/ferrite\"}}");
        assertEquals(kernel, effective("--config", f.toString(), "--kernel", kernel.toString()).kernel());
        ConfigException e = assertThrows(ConfigException.class, () -> effective("--config", f.toString()));
        assertEquals(f + ": boot-source.kernel_image_path: " + dir.resolve("elsewhere/ferrite") + ": no such file", e.getMessage());
    }

    @Test
    void diskFlagsReplaceAllTheFilesDrives() throws Exception {
        String f = fullFile().toString();
        VmConfig c = effective("--config", f, "--disk", "null:4K", "--disk", image + ",ro");
        assertEquals(List.of(new VmConfig.NullDrive("disk0", 4096), new VmConfig.ImageDrive("disk1", image, true, 4)), c.drives());
        assertEquals(1, c.nets().size(), "--disk leaves the network interfaces alone");
        assertEquals(List.of(), effective("--config", f, "--disk", "none").drives());
        ConfigException e = assertThrows(ConfigException.class, () -> effective("--config", f, "--disk", "none", "--disk", "null:1M"));
        assertEquals("--disk none: 'none' cannot be combined with other --disk values", e.getMessage());
    }

    @Test
    void netFlagsReplaceAllTheFilesInterfaces() throws Exception {
        String f = fullFile().toString();
        VmConfig c = effective("--config", f, "--net", "tap:tap5,mac=52:54:00:00:00:0A", "--net", "tap:tap6");
        assertEquals(List.of(new VmConfig.NetIface("net0", "tap5", Optional.of("52:54:00:00:00:0a")),
                new VmConfig.NetIface("net1", "tap6", Optional.empty())), c.nets());
        assertEquals(2, c.drives().size(), "--net leaves the drives alone");
        assertEquals(List.of(), effective("--config", f, "--net", "none").nets());
        ConfigException e = assertThrows(ConfigException.class, () -> effective("--kernel", kernel.toString(), "--net", "tap:t0,mac=ff:ff:ff:ff:ff:ff"));
        assertEquals("--net tap:t0,mac=ff:ff:ff:ff:ff:ff: 'ff:ff:ff:ff:ff:ff' is a multicast address; a NIC needs a unicast one (even first octet)",
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> effective("--kernel", kernel.toString(), "--net", "tap:t0", "--net", "tap:t0"));
        assertEquals("--net tap:t0: TAP interface 't0' already used", e.getMessage());
    }

    @Test
    void rngAndConsoleFlagsCanTurnTheFilesDevicesOff() throws Exception {
        String f = fullFile().toString();
        VmConfig off = effective("--config", f, "--rng=false", "--console", "none");
        assertFalse(off.rng());
        assertEquals(Optional.empty(), off.console());
        VmConfig stdio = effective("--config", f, "--console", "stdio");
        assertEquals(Optional.of(new ConsoleTarget.Stdio()), stdio.console());
        Path bare = file("{\"boot-source\": {\"kernel_image_path\": \"kernel\"}}");
        assertTrue(effective("--config", bare.toString(), "--rng").rng());
        assertTrue(effective("--kernel", kernel.toString(), "--rng", "--cpus", "2").rng());
        assertFalse(effective("--kernel", kernel.toString()).rng());
    }

    @Test
    void aBadFileValueIsAnErrorEvenIfAFlagOverridesIt() throws Exception {
        Path f = file("{\"boot-source\": {\"kernel_image_path\": \"kernel\"}, \"machine-config\": {\"vcpu_count\": 0}}");
        Result r = run("run", "--config", f.toString(), "--cpus", "2", "--print-config");
        assertEquals(125, r.status());
        assertEquals("panvm: " + f + ": machine-config.vcpu_count: must be between 1 and 64, got 0", r.err().strip());
    }

    @Test
    void configErrorsAreOneLine() throws Exception {
        Path f = file("{\"boot-source\": {\"kernel_image_path\": \"kernel\"}, \"machine-config\": {\"vcpus\": 2}}");
        Result r = run("run", "--config", f.toString());
        assertEquals(2, r.status());
        assertEquals("panvm: " + f + ": machine-config.vcpus: unknown field; did you mean \"vcpu_count\"?", r.err().strip());
        Result none = run("run", "--print-config");
        assertEquals(2, none.status());
        assertEquals("panvm: kernel: missing: give --kernel PATH, or boot-source.kernel_image_path in the --config file",
                none.err().strip());
        Result absent = run("run", "--config", dir.resolve("nope.json").toString());
        assertEquals(2, absent.status());
        assertEquals("panvm: --config " + dir.resolve("nope.json") + ": no such file", absent.err().strip());
    }

    @Test
    void printConfigRoundTrip() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        Path log = dir.resolve("com1.log");
        String[] args = {"run", "--kernel", kernel.toString(), "--cmdline", "workload=pipe ctl=console", "--mem", "768M",
                "--cpus", "3", "--boot", "pvh", "--disk", image + ",ro,io-threads=2", "--disk", "null:1G", "--net", "tap:tap0,mac=52:54:00:12:34:56",
                "--rng", "--prefault", "--console", "unix:" + sock, "--serial", "file:" + log, "--timeout", "20", "--print-config"};
        Result r = run(args);
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.err());
        assertFalse(Files.exists(log), "--print-config opens no serial file");
        assertFalse(Files.exists(sock), "--print-config creates no socket");
        JsonNode tree = new ObjectMapper().readTree(r.out());
        assertEquals(768, tree.at("/machine-config/mem_size_mib").asInt());
        assertTrue(tree.at("/machine-config/prefault").asBoolean(), r.out());
        assertEquals("disk1", tree.at("/drives/1/drive_id").asText());
        assertEquals(2, tree.at("/drives/0/io_threads").asInt(), r.out());

        // The printed file, saved elsewhere and read back, is the same machine.
        Path saved = Files.createDirectories(dir.resolve("elsewhere")).resolve("printed.json");
        Files.writeString(saved, r.out());
        VmConfig fromFlags = effective(java.util.Arrays.copyOfRange(args, 1, args.length - 1));
        VmConfig fromFile = effective("--config", saved.toString());
        assertEquals(fromFlags, fromFile);
        OutputStream serial = OutputStream.nullOutputStream();
        MachineConfig expected = new MachineConfig(kernel, "workload=pipe ctl=console", 768L << 20, 3, BootProtocol.PVH, serial,
                List.of(new DeviceSpec.Disk(image, true, 2), new DeviceSpec.NullDisk(1L << 30),
                        new DeviceSpec.Tap("tap0", Optional.of("52:54:00:12:34:56")), new DeviceSpec.Rng(),
                        new DeviceSpec.Console(new ConsoleTarget.UnixSocket(sock))), true);
        assertEquals(expected, fromFlags.toMachineConfig(serial));
        assertEquals(expected, fromFile.toMachineConfig(serial));
        assertEquals(r.out(), run("run", "--config", saved.toString(), "--print-config").out(), "printing is a fixed point");
    }

    @Test
    void printConfigOfDefaults() {
        Result r = run("run", "--kernel", kernel.toString(), "--print-config");
        assertEquals(0, r.status(), r.err());
        assertEquals("""
                {
                  "boot-source": {
                    "kernel_image_path": "%s",
                    "boot_args": "",
                    "boot_protocol": "direct"
                  },
                  "machine-config": {
                    "vcpu_count": 1,
                    "mem_size_mib": 512,
                    "prefault": false
                  },
                  "drives": [],
                  "network-interfaces": [],
                  "rng": {
                    "enabled": false
                  },
                  "console": {
                    "mode": "none"
                  },
                  "serial": {
                    "mode": "stdout"
                  },
                  "limits": {
                    "timeout_s": 0
                  }
                }
                """.formatted(kernel), r.out());
    }

    @Test
    void theExampleFileIsAccepted() throws Exception {
        Path example = Path.of("..", "examples", "vm.json");
        if (!Files.exists(example)) {
            example = Path.of("examples", "vm.json");
        }
        // A copy, with stand-ins for the kernel and images it names (built by scripts/build, images/build).
        Path copy = Files.createDirectories(dir.resolve("repo/examples")).resolve("vm.json");
        Files.copy(example, copy);
        JsonNode tree = new ObjectMapper().readTree(copy.toFile());
        List<String> named = new ArrayList<>(List.of(tree.at("/boot-source/kernel_image_path").asText()));
        tree.path("drives").forEach(d -> {
            if (d.has("path_on_host")) {
                named.add(d.get("path_on_host").asText());
            }
        });
        for (String n : named) {
            Path p = copy.getParent().resolve(n);
            Files.createDirectories(p.getParent());
            Files.write(p, new byte[] {0x7f, 'E', 'L', 'F'});
        }
        Result r = run("run", "--config", copy.toString(), "--print-config");
        assertEquals(0, r.status(), r.err());
        VmConfig c = effective("--config", copy.toString());
        assertEquals(dir.resolve("repo/guest-kernel/target/ferrite"), c.kernel());
        assertEquals(new ObjectMapper().readTree(r.out()), new ObjectMapper().readTree(VmConfigJson.write(c)));
        assertTrue(c.drives().size() >= 1, "the example shows a drive");
    }

    @Test
    void helpMentionsTheConfigFile() {
        Result r = run("run", "--help");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("--config"), r.out());
        assertTrue(r.out().contains("--print-config"), r.out());
        assertTrue(r.out().contains("vmm/CONFIG.md"), r.out());
    }
}
