package dev.panvm.vmm.cli;

import dev.panvm.vmm.boot.BootProtocol;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config file's schema: good files give the right {@link VmConfig}, bad ones one exact line each. */
class VmConfigJsonTest {
    @TempDir
    Path dir;

    @BeforeEach
    void files() throws Exception {
        Files.write(dir.resolve("kernel"), new byte[] {0x7f, 'E', 'L', 'F'});
        Files.write(dir.resolve("root.img"), new byte[4096]);
        Files.createDirectories(dir.resolve("sub"));
        Files.write(dir.resolve("sub/data.img"), new byte[4096]);
    }

    /** Parses {@code json} as the file vm.json in the temporary directory. */
    private VmConfig parse(String json) throws ConfigException {
        VmConfig.Builder b = new VmConfig.Builder();
        VmConfigJson.parse(json, dir, "vm.json", b);
        return b.build();
    }

    private void assertError(String expected, int status, String json) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(json));
        assertEquals(expected, e.getMessage());
        assertEquals(status, e.exitStatus(), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    private void assertUsage(String expected, String json) {
        assertError(expected, ConfigException.USAGE, json);
    }

    /** A minimal file with {@code extra} (", ..." or "") after its boot-source. */
    private static String withKernel(String extra) {
        return "{\"boot-source\": {\"kernel_image_path\": \"kernel\"}" + extra + "}";
    }

    @Test
    void fullFile() throws Exception {
        VmConfig c = parse("""
                {
                  "boot-source": {"kernel_image_path": "kernel", "boot_args": "workload=pipe ctl=console", "boot_protocol": "pvh"},
                  "machine-config": {"vcpu_count": 4, "mem_size_mib": 1024, "prefault": true},
                  "drives": [
                    {"drive_id": "root", "path_on_host": "root.img", "is_read_only": true},
                    {"drive_id": "data", "path_on_host": "sub/../sub/data.img", "io_threads": 0},
                    {"drive_id": "none", "null_size": "1G"}
                  ],
                  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "52:54:00:AB:cd:01"}],
                  "rng": {"enabled": true},
                  "console": {"mode": "unix", "path": "ctl.sock"},
                  "serial": {"mode": "file", "path": "com1.log"},
                  "limits": {"timeout_s": 30}
                }""");
        assertEquals(dir.resolve("kernel"), c.kernel());
        assertEquals("workload=pipe ctl=console", c.bootArgs());
        assertEquals(BootProtocol.PVH, c.boot());
        assertEquals(4, c.vcpus());
        assertEquals(1L << 30, c.memoryBytes());
        assertEquals(List.of(new VmConfig.ImageDrive("root", dir.resolve("root.img"), true, 4),
                new VmConfig.ImageDrive("data", dir.resolve("sub/data.img"), false, 0),
                new VmConfig.NullDrive("none", 1L << 30)), c.drives());
        assertEquals(List.of(new VmConfig.NetIface("eth0", "tap0", Optional.of("52:54:00:ab:cd:01"))), c.nets());
        assertTrue(c.rng());
        assertEquals(Optional.of(new ConsoleTarget.UnixSocket(dir.resolve("ctl.sock"))), c.console());
        assertEquals(Optional.of(dir.resolve("com1.log")), c.serialFile());
        assertEquals(30, c.timeoutSeconds());
        assertTrue(c.prefault());
        assertTrue(c.toMachineConfig(java.io.OutputStream.nullOutputStream()).prefault());
    }

    @Test
    void absentSectionsAndNullFieldsKeepTheDefaults() throws Exception {
        VmConfig c = parse("{\"boot-source\": {\"kernel_image_path\": \"kernel\", \"boot_args\": null}, \"rng\": {}}");
        assertEquals("", c.bootArgs());
        assertEquals(BootProtocol.DIRECT, c.boot());
        assertEquals(1, c.vcpus());
        assertEquals(512L << 20, c.memoryBytes());
        assertEquals(List.of(), c.drives());
        assertEquals(List.of(), c.nets());
        assertTrue(c.rng(), "a present rng section turns it on");
        assertEquals(Optional.empty(), c.console());
        assertEquals(Optional.empty(), c.serialFile());
        assertEquals(0, c.timeoutSeconds());
        assertFalse(c.prefault(), "guest RAM becomes resident as the guest uses it");
    }

    @Test
    void sizesAsStringsOrByteCounts() throws Exception {
        VmConfig c = parse(withKernel(", \"machine-config\": {\"mem_size\": \"65536K\"}, "
                + "\"drives\": [{\"drive_id\": \"n\", \"null_size\": 4096}], \"console\": {\"mode\": \"stdio\"}"));
        assertEquals(64L << 20, c.memoryBytes());
        assertEquals(List.of(new VmConfig.NullDrive("n", 4096)), c.drives());
        assertEquals(Optional.of(new ConsoleTarget.Stdio()), c.console());
    }

    @Test
    void unknownFieldsSuggestTheNearestKnownOne() {
        assertUsage("vm.json: machine_config: unknown field; did you mean \"machine-config\"?",
                withKernel(", \"machine_config\": {}"));
        assertUsage("vm.json: machine-config.vcpus: unknown field; did you mean \"vcpu_count\"?",
                withKernel(", \"machine-config\": {\"vcpus\": 2}"));
        assertUsage("vm.json: boot-source.kernel: unknown field; did you mean \"kernel_image_path\"?",
                "{\"boot-source\": {\"kernel\": \"kernel\"}}");
        assertUsage("vm.json: drives[0].read_only: unknown field; did you mean \"is_read_only\"?",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"read_only\": true}]"));
        assertUsage("vm.json: network-interfaces[0].mac: unknown field; did you mean \"guest_mac\"?",
                withKernel(", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\", \"mac\": \"x\"}]"));
    }

    @Test
    void firecrackerFieldsPanvmLacksSaySo() {
        assertUsage("vm.json: boot-source.initrd_path: not supported by panvm (panvm loads no initramfs)",
                "{\"boot-source\": {\"kernel_image_path\": \"kernel\", \"initrd_path\": \"initrd\"}}");
        assertUsage("vm.json: entropy: not supported by panvm (panvm's virtio-rng section is \"rng\")",
                withKernel(", \"entropy\": {}"));
        assertUsage("vm.json: drives[0].is_root_device: not supported by panvm (name the root device in boot_args)",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"is_root_device\": true}]"));
    }

    @Test
    void wrongTypes() {
        assertUsage("vm.json: machine-config.vcpu_count: expected an integer, got a string (\"2\")",
                withKernel(", \"machine-config\": {\"vcpu_count\": \"2\"}"));
        assertUsage("vm.json: machine-config.vcpu_count: expected an integer, got the number 1.5",
                withKernel(", \"machine-config\": {\"vcpu_count\": 1.5}"));
        assertUsage("vm.json: drives[0].is_read_only: expected true or false, got a string (\"yes\")",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"is_read_only\": \"yes\"}]"));
        assertUsage("vm.json: drives: expected an array, got an object", withKernel(", \"drives\": {}"));
        assertUsage("vm.json: drives[0]: expected an object, got a string (\"root.img\")", withKernel(", \"drives\": [\"root.img\"]"));
        assertUsage("vm.json: boot-source.boot_args: expected a string, got an array",
                "{\"boot-source\": {\"kernel_image_path\": \"kernel\", \"boot_args\": [\"a\"]}}");
        assertUsage("vm.json: rng: expected an object, got true", withKernel(", \"rng\": true"));
        assertUsage("vm.json: machine-config.mem_size: expected a size such as \"512M\" or a byte count, got false",
                withKernel(", \"machine-config\": {\"mem_size\": false}"));
        assertUsage("vm.json: (top level): expected an object, got an array", "[]");
    }

    @Test
    void outOfRangeValues() {
        assertError("vm.json: machine-config.vcpu_count: must be between 1 and 64, got 65", 125,
                withKernel(", \"machine-config\": {\"vcpu_count\": 65}"));
        assertError("vm.json: machine-config.vcpu_count: must be between 1 and 64, got 0", 125,
                withKernel(", \"machine-config\": {\"vcpu_count\": 0}"));
        assertError("vm.json: machine-config.mem_size_mib: 8 MiB is too small; the minimum is 16 MiB", 125,
                withKernel(", \"machine-config\": {\"mem_size_mib\": 8}"));
        assertError("vm.json: machine-config.mem_size_mib: 99999999999999999999 is out of range", 125,
                withKernel(", \"machine-config\": {\"mem_size_mib\": 99999999999999999999}"));
        assertUsage("vm.json: machine-config.mem_size: not a size: 'lots' (use e.g. 512M or 2G)",
                withKernel(", \"machine-config\": {\"mem_size\": \"lots\"}"));
        assertUsage("vm.json: limits.timeout_s: must be between 0 (no limit) and 315360000, got -1",
                withKernel(", \"limits\": {\"timeout_s\": -1}"));
        assertError("vm.json: boot-source.boot_args: must be printable ASCII; character 1 is U+000A", 125,
                "{\"boot-source\": {\"kernel_image_path\": \"kernel\", \"boot_args\": \"a\\nb\"}}");
        assertUsage("vm.json: boot-source.boot_protocol: must be 'direct' or 'pvh', not 'bios'",
                "{\"boot-source\": {\"kernel_image_path\": \"kernel\", \"boot_protocol\": \"bios\"}}");
    }

    @Test
    void missingFiles() {
        assertError("vm.json: boot-source.kernel_image_path: " + dir.resolve("nope") + ": no such file", 125,
                "{\"boot-source\": {\"kernel_image_path\": \"nope\"}}");
        assertError("vm.json: boot-source.kernel_image_path: " + dir.resolve("sub") + ": is a directory", 125,
                "{\"boot-source\": {\"kernel_image_path\": \"sub\"}}");
        assertError("vm.json: drives[1].path_on_host: " + dir.resolve("gone.img") + ": no such file", 125,
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\"}, "
                        + "{\"drive_id\": \"b\", \"path_on_host\": \"gone.img\"}]"));
        assertUsage("kernel: missing: give --kernel PATH, or boot-source.kernel_image_path in the --config file",
                "{\"machine-config\": {\"vcpu_count\": 1}}");
        assertUsage("vm.json: boot-source.kernel_image_path: empty path", "{\"boot-source\": {\"kernel_image_path\": \"\"}}");
    }

    @Test
    void drives() {
        assertUsage("vm.json: drives[1].drive_id: duplicate id 'root' (also drives[0])",
                withKernel(", \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"root.img\"}, "
                        + "{\"drive_id\": \"root\", \"null_size\": \"1G\"}]"));
        assertUsage("vm.json: drives[0].drive_id: missing", withKernel(", \"drives\": [{\"path_on_host\": \"root.img\"}]"));
        assertUsage("vm.json: drives[0].drive_id: 'my disk' must be 1 to 64 letters, digits, '_', '.' or '-'",
                withKernel(", \"drives\": [{\"drive_id\": \"my disk\", \"path_on_host\": \"root.img\"}]"));
        assertUsage("vm.json: drives[0].path_on_host: missing", withKernel(", \"drives\": [{\"drive_id\": \"a\"}]"));
        assertUsage("vm.json: drives[0]: give path_on_host or null_size, not both",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"null_size\": \"1G\"}]"));
        assertUsage("vm.json: drives[0].is_read_only: applies to path_on_host drives only, not null_size ones",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"null_size\": \"1G\", \"is_read_only\": true}]"));
        assertUsage("vm.json: drives[0].io_threads: applies to path_on_host drives only, not null_size ones",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"null_size\": \"1G\", \"io_threads\": 2}]"));
        assertUsage("vm.json: drives[0].io_threads: expected an integer, got a string (\"4\")",
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"io_threads\": \"4\"}]"));
        assertError("vm.json: drives[0].io_threads: must be between 0 and 64, got 65", 125,
                withKernel(", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"root.img\", \"io_threads\": 65}]"));
    }

    @Test
    void networkInterfaces() {
        String tap0 = "{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\"";
        assertUsage("vm.json: network-interfaces[0].guest_mac: '52:54:00:12:34' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)",
                withKernel(", \"network-interfaces\": [" + tap0 + ", \"guest_mac\": \"52:54:00:12:34\"}]"));
        assertUsage("vm.json: network-interfaces[0].guest_mac: '52:54:00:12:34:zz' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)",
                withKernel(", \"network-interfaces\": [" + tap0 + ", \"guest_mac\": \"52:54:00:12:34:zz\"}]"));
        assertUsage("vm.json: network-interfaces[0].guest_mac: '01:00:5e:00:00:01' is a multicast address; a NIC needs a unicast one (even first octet)",
                withKernel(", \"network-interfaces\": [" + tap0 + ", \"guest_mac\": \"01:00:5e:00:00:01\"}]"));
        assertUsage("vm.json: network-interfaces[1].iface_id: duplicate id 'a' (also network-interfaces[0])",
                withKernel(", \"network-interfaces\": [" + tap0 + "}, {\"iface_id\": \"a\", \"host_dev_name\": \"tap1\"}]"));
        assertUsage("vm.json: network-interfaces[1].host_dev_name: TAP interface already used 'tap0' (also network-interfaces[0])",
                withKernel(", \"network-interfaces\": [" + tap0 + "}, {\"iface_id\": \"b\", \"host_dev_name\": \"tap0\"}]"));
        assertUsage("vm.json: network-interfaces[0].host_dev_name: 'a-very-long-tap-name' is not an interface name (1 to 15 printable characters, no '/' or spaces)",
                withKernel(", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"a-very-long-tap-name\"}]"));
        assertUsage("vm.json: network-interfaces[0].host_dev_name: missing",
                withKernel(", \"network-interfaces\": [{\"iface_id\": \"a\"}]"));
    }

    @Test
    void consoleAndSerial() {
        assertUsage("vm.json: console.path: missing", withKernel(", \"console\": {\"mode\": \"unix\"}"));
        assertUsage("vm.json: console.mode: missing", withKernel(", \"console\": {\"path\": \"x.sock\"}"));
        assertUsage("vm.json: console.mode: must be 'unix', 'stdio' or 'none', not 'tcp'", withKernel(", \"console\": {\"mode\": \"tcp\"}"));
        assertUsage("vm.json: console.path: applies to mode 'unix' only",
                withKernel(", \"console\": {\"mode\": \"stdio\", \"path\": \"x.sock\"}"));
        assertUsage("vm.json: serial.mode: must be 'stdout' or 'file', not 'tcp'", withKernel(", \"serial\": {\"mode\": \"tcp\"}"));
        assertUsage("vm.json: serial.path: missing", withKernel(", \"serial\": {\"mode\": \"file\"}"));
    }

    @Test
    void eitherMemorySize() {
        assertUsage("vm.json: machine-config.mem_size: give mem_size_mib or mem_size, not both",
                withKernel(", \"machine-config\": {\"mem_size_mib\": 512, \"mem_size\": \"512M\"}"));
    }

    @Test
    void tooManyDevices() {
        StringBuilder drives = new StringBuilder();
        for (int i = 0; i < 9; i++) {
            drives.append(i == 0 ? "" : ", ").append("{\"drive_id\": \"d").append(i).append("\", \"null_size\": \"1M\"}");
        }
        assertError("devices: 9 virtio devices (drives, network interfaces, rng, console); panvm has 8 slots", 125,
                withKernel(", \"drives\": [" + drives + "]"));
    }

    @Test
    void malformedJson() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\n  \"boot-source\": {\n    \"kernel_image_path\": \"kernel\",\n  }\n}"));
        assertTrue(e.getMessage().startsWith("vm.json: line 4, column 3: not valid JSON: "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        assertEquals(ConfigException.USAGE, e.exitStatus());

        e = assertThrows(ConfigException.class, () -> parse(withKernel(", \"rng\": {}, \"rng\": {}")));
        assertTrue(e.getMessage().contains("Duplicate field 'rng'"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());

        e = assertThrows(ConfigException.class, () -> parse(withKernel("") + " {}"));
        assertTrue(e.getMessage().startsWith("vm.json: line 1, column "), e.getMessage());

        assertUsage("vm.json: empty; a config file is one JSON object", "  ");
    }

    @Test
    void missingConfigFile() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> VmConfigJson.read(dir.resolve("absent.json"), new VmConfig.Builder()));
        assertEquals("--config " + dir.resolve("absent.json") + ": no such file", e.getMessage());
    }

    @Test
    void writeThenReadIsTheSameConfig() throws Exception {
        VmConfig c = parse("""
                {
                  "boot-source": {"kernel_image_path": "kernel", "boot_args": "a=b \\"q\\"", "boot_protocol": "pvh"},
                  "machine-config": {"vcpu_count": 3, "mem_size": "100000K"},
                  "drives": [{"drive_id": "r", "path_on_host": "root.img", "is_read_only": true},
                             {"drive_id": "n", "null_size": 1000}],
                  "network-interfaces": [{"iface_id": "e", "host_dev_name": "tap7"}],
                  "console": {"mode": "stdio"},
                  "limits": {"timeout_s": 5}
                }""");
        String printed = VmConfigJson.write(c);
        assertTrue(printed.contains("\"mem_size\": \"100000K\""), printed);
        assertTrue(printed.contains("\"null_size\": \"1000\""), printed);
        VmConfig.Builder again = new VmConfig.Builder();
        VmConfigJson.parse(printed, dir.resolve("sub"), "printed.json", again);
        VmConfig back = again.build();
        assertEquals(c, back);
        assertEquals(printed, VmConfigJson.write(back));
        assertFalse(printed.contains(" : "), printed);
    }

    @Test
    void nearestField() {
        List<String> known = List.of("vcpu_count", "mem_size_mib", "mem_size");
        assertEquals("vcpu_count", VmConfigJson.nearest("vcpu", known));
        assertEquals("mem_size_mib", VmConfigJson.nearest("mem_size_mb", known));
        assertEquals("mem_size", VmConfigJson.nearest("memsize", known));
        assertEquals("guest_mac", VmConfigJson.nearest("mac", List.of("iface_id", "host_dev_name", "guest_mac")));
    }
}
