package dev.panvm.vmm.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.vmm.devices.console.ConsoleTarget;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * panvm's VM config file (JSON, in the style of Firecracker's {@code --config-file}; the schema
 * is in vmm/CONFIG.md): {@link #read} applies a file to a {@link VmConfig.Builder}, {@link #write}
 * prints a {@link VmConfig} in the same schema. Relative paths in a file are relative to the
 * file's directory; {@link #write} prints absolute ones, so its output reads back the same
 * wherever it is saved.
 */
final class VmConfigJson {
    static final String BOOT_SOURCE = "boot-source";
    static final String MACHINE_CONFIG = "machine-config";
    static final String DRIVES = "drives";
    static final String NETWORK_INTERFACES = "network-interfaces";
    static final String RNG = "rng";
    static final String CONSOLE = "console";
    static final String SERIAL = "serial";
    static final String LIMITS = "limits";

    private static final List<String> ROOT_FIELDS =
            List.of(BOOT_SOURCE, MACHINE_CONFIG, DRIVES, NETWORK_INTERFACES, RNG, CONSOLE, SERIAL, LIMITS);
    private static final List<String> BOOT_SOURCE_FIELDS = List.of("kernel_image_path", "boot_args", "boot_protocol");
    private static final List<String> MACHINE_FIELDS = List.of("vcpu_count", "mem_size_mib", "mem_size", "prefault");
    private static final List<String> DRIVE_FIELDS = List.of("drive_id", "path_on_host", "is_read_only", "io_threads", "null_size");
    private static final List<String> IFACE_FIELDS = List.of("iface_id", "host_dev_name", "guest_mac");
    private static final List<String> RNG_FIELDS = List.of("enabled");
    private static final List<String> CONSOLE_FIELDS = List.of("mode", "path");
    private static final List<String> SERIAL_FIELDS = List.of("mode", "path");
    private static final List<String> LIMITS_FIELDS = List.of("timeout_s");

    /** Firecracker's fields panvm has no counterpart for, with why: a clearer error than "unknown". */
    private static final Map<String, String> UNSUPPORTED = Map.ofEntries(
            Map.entry("entropy", "panvm's virtio-rng section is \"rng\""),
            Map.entry("logger", "panvm logs to stderr (-Dpanvm.log.level=...)"),
            Map.entry("metrics", ""),
            Map.entry("vsock", ""),
            Map.entry("balloon", ""),
            Map.entry("mmds-config", ""),
            Map.entry("cpu-config", ""),
            Map.entry("initrd_path", "panvm loads no initramfs"),
            Map.entry("smt", ""),
            Map.entry("cpu_template", ""),
            Map.entry("track_dirty_pages", ""),
            Map.entry("huge_pages", "panvm always backs guest RAM with transparent huge pages; machine-config.prefault faults it all in at start"),
            Map.entry("is_root_device", "name the root device in boot_args"),
            Map.entry("partuuid", "name the root device in boot_args"),
            Map.entry("cache_type", "FLUSH always reaches the disk (fdatasync)"),
            Map.entry("io_engine", ""),
            Map.entry("rate_limiter", ""),
            Map.entry("rx_rate_limiter", ""),
            Map.entry("tx_rate_limiter", ""));

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private VmConfigJson() {}

    /** Applies the file's values to {@code into}; errors name the file and the field. */
    static void read(Path file, VmConfig.Builder into) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw ConfigException.usage("--config " + file, "no such file");
        } catch (CharacterCodingException e) {
            throw ConfigException.usage("--config " + file, "not UTF-8 text");
        } catch (IOException e) {
            throw ConfigException.usage("--config " + file, "cannot read: " + e.getMessage());
        }
        parse(text, file.toAbsolutePath().getParent(), file.toString(), into);
    }

    /**
     * Applies a config file's {@code text} to {@code into}, relative paths resolved against
     * {@code baseDir}; {@code name} (the file's) begins every error message.
     */
    static void parse(String text, Path baseDir, String name, VmConfig.Builder into) throws ConfigException {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null || at.getLineNr() < 0 ? "" : " line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ConfigException.usage(name + (where.isEmpty() ? "" : ":" + where), "not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        }
        if (root == null || root.isMissingNode()) {
            throw ConfigException.usage(name, "empty; a config file is one JSON object");
        }
        try {
            new Reader(baseDir, name, into).root(root);
        } catch (ConfigException e) {
            throw e.in(name);
        }
    }

    /** The configuration as a config file: every setting explicit, paths absolute. */
    static String write(VmConfig c) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode boot = root.putObject(BOOT_SOURCE);
        boot.put("kernel_image_path", absolute(c.kernel()));
        boot.put("boot_args", c.bootArgs());
        boot.put("boot_protocol", VmConfig.bootName(c.boot()));
        ObjectNode machine = root.putObject(MACHINE_CONFIG);
        machine.put("vcpu_count", c.vcpus());
        if (c.memoryBytes() % (1L << 20) == 0) {
            machine.put("mem_size_mib", c.memoryBytes() >> 20);
        } else {
            machine.put("mem_size", formatSize(c.memoryBytes()));
        }
        machine.put("prefault", c.prefault());
        ArrayNode drives = root.putArray(DRIVES);
        for (VmConfig.Drive d : c.drives()) {
            ObjectNode o = drives.addObject().put("drive_id", d.id());
            switch (d) {
                case VmConfig.ImageDrive i -> o.put("path_on_host", absolute(i.path())).put("is_read_only", i.readOnly())
                        .put("io_threads", i.ioThreads());
                case VmConfig.NullDrive n -> o.put("null_size", formatSize(n.sizeBytes()));
            }
        }
        ArrayNode nets = root.putArray(NETWORK_INTERFACES);
        for (VmConfig.NetIface n : c.nets()) {
            ObjectNode o = nets.addObject().put("iface_id", n.id()).put("host_dev_name", n.hostDevName());
            n.guestMac().ifPresent(mac -> o.put("guest_mac", mac));
        }
        root.putObject(RNG).put("enabled", c.rng());
        ObjectNode console = root.putObject(CONSOLE);
        switch (c.console().orElse(null)) {
            case null -> console.put("mode", "none");
            case ConsoleTarget.Stdio s -> console.put("mode", "stdio");
            case ConsoleTarget.UnixSocket u -> console.put("mode", "unix").put("path", absolute(u.path()));
            case ConsoleTarget.InProcess p -> throw new IllegalArgumentException("an in-process console has no config-file form");
        }
        ObjectNode serial = root.putObject(SERIAL);
        c.serialFile().ifPresentOrElse(
                f -> serial.put("mode", "file").put("path", absolute(f)),
                () -> serial.put("mode", "stdout"));
        root.putObject(LIMITS).put("timeout_s", c.timeoutSeconds());
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                        .withArrayEmptySeparator(""));
        printer.indentArraysWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        try {
            return JSON.writer(printer).writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A size as {@code --mem} and {@code null_size} take it: {@code 2G}, {@code 512M}, {@code 4K} or bytes. */
    static String formatSize(long bytes) {
        if (bytes != 0 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "G";
        }
        if (bytes != 0 && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + "M";
        }
        if (bytes != 0 && bytes % (1L << 10) == 0) {
            return (bytes >> 10) + "K";
        }
        return Long.toString(bytes);
    }

    private static String absolute(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    /** Levenshtein distance, '-' and '_' and case not counted as differences. */
    static int distance(String a, String b) {
        a = a.toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        b = b.toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The known field nearest to {@code name}; the first of equals. */
    static String nearest(String name, List<String> known) {
        String best = known.getFirst();
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(name, k);
            // A known field that contains the unknown one (mac in guest_mac), or the reverse, is a near miss.
            if (k.contains(name) || name.contains(k)) {
                d = Math.min(d, Math.abs(k.length() - name.length()) / 3 + 1);
            }
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return best;
    }

    /** Walks the tree, setting the builder's values and naming each field in its errors. */
    private record Reader(Path baseDir, String fileName, VmConfig.Builder into) {

        void root(JsonNode node) throws ConfigException {
            Obj root = new Obj(node, "", ROOT_FIELDS);
            Optional<Obj> boot = root.object(BOOT_SOURCE, BOOT_SOURCE_FIELDS);
            if (boot.isPresent()) {
                bootSource(boot.get());
            }
            Optional<Obj> machine = root.object(MACHINE_CONFIG, MACHINE_FIELDS);
            if (machine.isPresent()) {
                machineConfig(machine.get());
            }
            Optional<List<JsonNode>> drives = root.array(DRIVES);
            if (drives.isPresent()) {
                drives(drives.get());
            }
            Optional<List<JsonNode>> nets = root.array(NETWORK_INTERFACES);
            if (nets.isPresent()) {
                nets(nets.get());
            }
            Optional<Obj> rng = root.object(RNG, RNG_FIELDS);
            if (rng.isPresent()) {
                into.rng(rng.get().bool("enabled").orElse(true));
            }
            Optional<Obj> console = root.object(CONSOLE, CONSOLE_FIELDS);
            if (console.isPresent()) {
                console(console.get());
            }
            Optional<Obj> serial = root.object(SERIAL, SERIAL_FIELDS);
            if (serial.isPresent()) {
                serial(serial.get());
            }
            Optional<Obj> limits = root.object(LIMITS, LIMITS_FIELDS);
            if (limits.isPresent()) {
                Optional<Long> t = limits.get().integer("timeout_s");
                if (t.isPresent()) {
                    into.timeoutSeconds(VmConfig.checkTimeout(t.get(), limits.get().field("timeout_s")));
                }
            }
        }

        private void bootSource(Obj o) throws ConfigException {
            Optional<Path> kernel = o.path("kernel_image_path", baseDir);
            if (kernel.isPresent()) {
                into.kernel(kernel.get(), fileName + ": " + o.field("kernel_image_path"));
            }
            Optional<String> args = o.string("boot_args");
            if (args.isPresent()) {
                into.bootArgs(VmConfig.checkBootArgs(args.get(), o.field("boot_args")));
            }
            Optional<String> protocol = o.string("boot_protocol");
            if (protocol.isPresent()) {
                into.boot(VmConfig.parseBoot(protocol.get(), o.field("boot_protocol")));
            }
        }

        private void machineConfig(Obj o) throws ConfigException {
            Optional<Long> vcpus = o.integer("vcpu_count");
            if (vcpus.isPresent()) {
                into.vcpus(VmConfig.checkVcpus(vcpus.get(), o.field("vcpu_count")));
            }
            Optional<Long> mib = o.integer("mem_size_mib");
            Optional<Long> size = o.size("mem_size");
            if (mib.isPresent() && size.isPresent()) {
                throw ConfigException.usage(o.field("mem_size"), "give mem_size_mib or mem_size, not both");
            }
            if (mib.isPresent()) {
                long m = mib.get();
                if (m < 0 || m > Long.MAX_VALUE >> 20) {
                    throw ConfigException.invalid(o.field("mem_size_mib"), m + " is out of range");
                }
                into.memoryBytes(VmConfig.checkMemory(m << 20, o.field("mem_size_mib")));
            }
            if (size.isPresent()) {
                into.memoryBytes(VmConfig.checkMemory(size.get(), o.field("mem_size")));
            }
            Optional<Boolean> prefault = o.bool("prefault");
            if (prefault.isPresent()) {
                into.prefault(prefault.get());
            }
        }

        private void drives(List<JsonNode> nodes) throws ConfigException {
            List<VmConfig.Drive> drives = new ArrayList<>();
            List<String> fields = new ArrayList<>();
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < nodes.size(); i++) {
                String at = DRIVES + "[" + i + "]";
                Obj o = new Obj(nodes.get(i), at, DRIVE_FIELDS);
                String id = VmConfig.checkId(o.required(o.string("drive_id"), "drive_id"), o.field("drive_id"));
                Integer before = ids.putIfAbsent(id, i);
                if (before != null) {
                    throw ConfigException.usage(o.field("drive_id"), "duplicate id '" + id + "' (also " + DRIVES + "[" + before + "])");
                }
                Optional<Path> path = o.path("path_on_host", baseDir);
                Optional<Long> nullSize = o.size("null_size");
                Optional<Boolean> ro = o.bool("is_read_only");
                Optional<Long> ioThreads = o.integer("io_threads");
                if (path.isPresent() && nullSize.isPresent()) {
                    throw ConfigException.usage(at, "give path_on_host or null_size, not both");
                }
                if (nullSize.isPresent()) {
                    String imageOnly = ro.isPresent() ? "is_read_only" : ioThreads.isPresent() ? "io_threads" : null;
                    if (imageOnly != null) {
                        throw ConfigException.usage(o.field(imageOnly), "applies to path_on_host drives only, not null_size ones");
                    }
                    drives.add(new VmConfig.NullDrive(id, nullSize.get()));
                } else {
                    Path p = o.required(path, "path_on_host");
                    int threads = ioThreads.isPresent()
                            ? VmConfig.checkIoThreads(ioThreads.get(), o.field("io_threads"))
                            : VirtioBlk.DEFAULT_IO_THREADS;
                    drives.add(new VmConfig.ImageDrive(id, p, ro.orElse(false), threads));
                }
                fields.add(fileName + ": " + o.field("path_on_host"));
            }
            into.drives(drives, fields);
        }

        private void nets(List<JsonNode> nodes) throws ConfigException {
            List<VmConfig.NetIface> nets = new ArrayList<>();
            Map<String, Integer> ids = new HashMap<>();
            Map<String, Integer> taps = new HashMap<>();
            Map<String, Integer> macs = new HashMap<>();
            for (int i = 0; i < nodes.size(); i++) {
                String at = NETWORK_INTERFACES + "[" + i + "]";
                Obj o = new Obj(nodes.get(i), at, IFACE_FIELDS);
                String id = VmConfig.checkId(o.required(o.string("iface_id"), "iface_id"), o.field("iface_id"));
                unique(ids, id, i, o.field("iface_id"), "duplicate id");
                String tap = VmConfig.checkTapName(o.required(o.string("host_dev_name"), "host_dev_name"), o.field("host_dev_name"));
                unique(taps, tap, i, o.field("host_dev_name"), "TAP interface already used");
                Optional<String> mac = o.string("guest_mac");
                if (mac.isPresent()) {
                    mac = Optional.of(VmConfig.checkMac(mac.get(), o.field("guest_mac")));
                    unique(macs, mac.get(), i, o.field("guest_mac"), "MAC address already used");
                }
                nets.add(new VmConfig.NetIface(id, tap, mac));
            }
            into.nets(nets);
        }

        private static void unique(Map<String, Integer> seen, String value, int i, String field, String what) throws ConfigException {
            Integer before = seen.putIfAbsent(value, i);
            if (before != null) {
                throw ConfigException.usage(field, what + " '" + value + "' (also " + NETWORK_INTERFACES + "[" + before + "])");
            }
        }

        private void console(Obj o) throws ConfigException {
            String mode = o.required(o.string("mode"), "mode");
            Optional<Path> path = o.path("path", baseDir);
            switch (mode) {
                case "unix" -> into.console(Optional.of(new ConsoleTarget.UnixSocket(o.required(path, "path"))));
                case "stdio", "none" -> {
                    if (path.isPresent()) {
                        throw ConfigException.usage(o.field("path"), "applies to mode 'unix' only");
                    }
                    into.console(mode.equals("stdio") ? Optional.of(new ConsoleTarget.Stdio()) : Optional.empty());
                }
                default -> throw ConfigException.usage(o.field("mode"), "must be 'unix', 'stdio' or 'none', not '" + mode + "'");
            }
        }

        private void serial(Obj o) throws ConfigException {
            String mode = o.required(o.string("mode"), "mode");
            Optional<Path> path = o.path("path", baseDir);
            switch (mode) {
                case "file" -> into.serialFile(Optional.of(o.required(path, "path")));
                case "stdout" -> {
                    if (path.isPresent()) {
                        throw ConfigException.usage(o.field("path"), "applies to mode 'file' only");
                    }
                    into.serialFile(Optional.empty());
                }
                default -> throw ConfigException.usage(o.field("mode"), "must be 'stdout' or 'file', not '" + mode + "'");
            }
        }
    }

    /** A JSON object at {@code path} whose fields must be among {@code known}; null fields count as absent. */
    private static final class Obj {
        private final JsonNode node;
        private final String path;

        Obj(JsonNode node, String path, List<String> known) throws ConfigException {
            if (!node.isObject()) {
                throw ConfigException.usage(path.isEmpty() ? "(top level)" : path, "expected an object, got " + describe(node));
            }
            this.node = node;
            this.path = path;
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!known.contains(name)) {
                    String reason = UNSUPPORTED.get(name);
                    if (reason != null) {
                        throw ConfigException.usage(field(name), "not supported by panvm" + (reason.isEmpty() ? "" : " (" + reason + ")"));
                    }
                    throw ConfigException.usage(field(name), "unknown field; did you mean \"" + nearest(name, known) + "\"?");
                }
            }
        }

        String field(String name) {
            return path.isEmpty() ? name : path + "." + name;
        }

        private JsonNode get(String name) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? null : v;
        }

        <T> T required(Optional<T> value, String name) throws ConfigException {
            if (value.isEmpty()) {
                throw ConfigException.usage(field(name), "missing");
            }
            return value.get();
        }

        Optional<String> string(String name) throws ConfigException {
            JsonNode v = get(name);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isTextual()) {
                throw ConfigException.usage(field(name), "expected a string, got " + describe(v));
            }
            return Optional.of(v.textValue());
        }

        /** A non-empty path, resolved against {@code base}. */
        Optional<Path> path(String name, Path base) throws ConfigException {
            Optional<String> s = string(name);
            if (s.isEmpty()) {
                return Optional.empty();
            }
            if (s.get().isEmpty()) {
                throw ConfigException.usage(field(name), "empty path");
            }
            try {
                return Optional.of(base.resolve(s.get()).normalize());
            } catch (java.nio.file.InvalidPathException e) {
                throw ConfigException.usage(field(name), "not a path: " + e.getReason());
            }
        }

        Optional<Long> integer(String name) throws ConfigException {
            JsonNode v = get(name);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isIntegralNumber()) {
                throw ConfigException.usage(field(name), "expected an integer, got " + describe(v));
            }
            if (!v.canConvertToLong()) {
                throw ConfigException.invalid(field(name), v.asText() + " is out of range");
            }
            return Optional.of(v.longValue());
        }

        Optional<Boolean> bool(String name) throws ConfigException {
            JsonNode v = get(name);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isBoolean()) {
                throw ConfigException.usage(field(name), "expected true or false, got " + describe(v));
            }
            return Optional.of(v.booleanValue());
        }

        /** A size: a string as --mem takes it ("512M", "2G", "65536K", "4096") or an integer count of bytes. */
        Optional<Long> size(String name) throws ConfigException {
            JsonNode v = get(name);
            if (v == null) {
                return Optional.empty();
            }
            if (v.isIntegralNumber()) {
                if (!v.canConvertToLong() || v.longValue() <= 0) {
                    throw ConfigException.invalid(field(name), v.asText() + " is out of range (a size in bytes, > 0)");
                }
                return Optional.of(v.longValue());
            }
            if (!v.isTextual()) {
                throw ConfigException.usage(field(name), "expected a size such as \"512M\" or a byte count, got " + describe(v));
            }
            try {
                return Optional.of(new SizeConverter().convert(v.textValue()));
            } catch (CommandLine.TypeConversionException e) {
                throw ConfigException.usage(field(name), e.getMessage());
            }
        }

        Optional<Obj> object(String name, List<String> known) throws ConfigException {
            JsonNode v = get(name);
            return v == null ? Optional.empty() : Optional.of(new Obj(v, field(name), known));
        }

        Optional<List<JsonNode>> array(String name) throws ConfigException {
            JsonNode v = get(name);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isArray()) {
                throw ConfigException.usage(field(name), "expected an array, got " + describe(v));
            }
            List<JsonNode> items = new ArrayList<>();
            v.forEach(items::add);
            return Optional.of(items);
        }
    }

    /** A JSON value in a few words, for "expected ..., got ...". */
    static String describe(JsonNode v) {
        return switch (v.getNodeType()) {
            case STRING -> {
                String s = v.textValue();
                yield "a string (\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\")";
            }
            case NUMBER -> "the number " + v.asText();
            case BOOLEAN -> v.asText();
            case NULL -> "null";
            case OBJECT -> "an object";
            case ARRAY -> "an array";
            default -> v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
