package dev.panvm.kvm.api;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.PathElement.sequenceElement;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the generated bindings against gcc, independently of kvm-bindgen: a C program including
 * {@code <linux/kvm.h>} prints {@code sizeof}, {@code _Alignof} and {@code offsetof} of every
 * struct and member path of {@link KvmStructs}, every ioctl number of {@link KvmIoctls} and every
 * constant of {@link KvmConstants}, and each must equal the Java value. Needs gcc and
 * linux-libc-dev, and fails (never skips) without them.
 */
class KvmLayoutTest {
    private static final Path HEADER = Path.of("/usr/include/linux/kvm.h");
    private static final String ANON = "$anon";

    /** One value asked of C: {@code printf(format, cast(expression))} must print {@code expected}. */
    private record Probe(String group, String what, String format, String cValue, long expected) {}

    private static final List<Probe> PROBES = new ArrayList<>();
    private static final List<Long> ACTUAL = new ArrayList<>();

    @BeforeAll
    static void askGcc(@TempDir Path dir) throws IOException, InterruptedException {
        assertTrue(Files.exists(HEADER), HEADER + " is missing: install linux-libc-dev (KvmLayoutTest "
                + "compares the generated bindings with the C headers)");
        Path gcc = findOnPath("gcc");
        for (var e : new TreeMap<>(KvmStructs.ALL).entrySet()) {
            structProbes(e.getKey(), e.getValue());
        }
        for (var e : new TreeMap<>(KvmStructs.FLEXIBLE_ARRAY_OFFSETS).entrySet()) {
            String tag = e.getKey().substring(0, e.getKey().indexOf('.'));
            String path = e.getKey().substring(tag.length() + 1);
            MemoryLayout element = KvmStructs.FLEXIBLE_ARRAY_ELEMENTS.get(e.getKey());
            size("flexible arrays", "offsetof(struct " + tag + ", " + path + ")", e.getValue());
            size("flexible arrays", "sizeof(((struct " + tag + " *)0)->" + path + "[0])", element.byteSize());
            size("flexible arrays", "__alignof__(((struct " + tag + " *)0)->" + path + "[0])",
                    element.byteAlignment());
        }
        new TreeMap<>(KvmIoctls.ALL).forEach((name, value) ->
                PROBES.add(new Probe("ioctls", name, "%lu", "(unsigned long)(" + name + ")", value)));
        new TreeMap<>(KvmConstants.ALL).forEach((name, value) ->
                PROBES.add(new Probe("constants", name, "%lld", "(long long)(" + name + ")", value)));

        StringBuilder c = new StringBuilder("#include <stddef.h>\n#include <stdio.h>\n#include <linux/kvm.h>\n\n")
                .append("int main(void) {\n");
        for (Probe p : PROBES) {
            c.append("    printf(\"").append(p.format()).append("\\n\", ").append(p.cValue()).append(");\n");
        }
        c.append("    return 0;\n}\n");
        Path source = dir.resolve("kvm_layout_probe.c");
        Path binary = dir.resolve("kvm_layout_probe");
        Files.writeString(source, c);
        run(List.of(gcc.toString(), "-std=gnu11", "-Wall", "-o", binary.toString(), source.toString()));
        String[] lines = run(List.of(binary.toString())).split("\n");
        assertEquals(PROBES.size(), lines.length, "the probe program printed the wrong number of lines");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            ACTUAL.add(PROBES.get(i).format().equals("%lld") ? Long.parseLong(line) : Long.parseUnsignedLong(line));
        }
        long structValues = PROBES.stream().filter(p -> p.group().startsWith("struct ")).count();
        System.out.printf("KvmLayoutTest: asked gcc for %d values: %d sizes/alignments/offsets of %d structs, "
                        + "%d of flexible arrays, %d ioctls, %d constants%n", PROBES.size(), structValues,
                KvmStructs.ALL.size(), 3 * KvmStructs.FLEXIBLE_ARRAY_OFFSETS.size(), KvmIoctls.ALL.size(),
                KvmConstants.ALL.size());
    }

    /** sizeof and alignment of the struct, offset and size of every member path (padding excepted). */
    private static void structProbes(String tag, StructLayout layout) {
        String group = "struct " + tag;
        assertEquals(tag, layout.name().orElse(null), "name of the layout of " + group);
        size(group, "sizeof(struct " + tag + ")", layout.byteSize());
        size(group, "_Alignof(struct " + tag + ")", layout.byteAlignment());
        members(tag, layout, layout, List.of(), "");
    }

    private static void members(String tag, StructLayout root, GroupLayout group, List<PathElement> path, String cPath) {
        for (MemoryLayout m : group.memberLayouts()) {
            if (m instanceof PaddingLayout) {
                continue;
            }
            String name = m.name().orElseThrow(() ->
                    new AssertionError("struct " + tag + ": unnamed member in " + (cPath.isEmpty() ? "the struct" : cPath)));
            List<PathElement> p = append(path, groupElement(name));
            if (name.startsWith(ANON)) { // C reaches the members of an anonymous struct/union directly
                if (!(m instanceof GroupLayout anonymous)) {
                    fail("struct " + tag + ": " + name + " is not a struct or union");
                    return;
                }
                members(tag, root, anonymous, p, cPath);
            } else {
                member(tag, root, m, p, cPath.isEmpty() ? name : cPath + "." + name);
            }
        }
    }

    private static void member(String tag, StructLayout root, MemoryLayout m, List<PathElement> path, String cPath) {
        String group = "struct " + tag;
        PathElement[] elements = path.toArray(PathElement[]::new);
        size(group, "offsetof(struct " + tag + ", " + cPath + ")", root.byteOffset(elements));
        size(group, "sizeof(((struct " + tag + " *)0)->" + cPath + ")", m.byteSize());
        switch (m) {
            case GroupLayout g -> members(tag, root, g, path, cPath);
            case SequenceLayout s -> member(tag, root, s.elementLayout(), append(path, sequenceElement(0)), cPath + "[0]");
            default -> { }
        }
    }

    private static void size(String group, String cExpression, long expected) {
        PROBES.add(new Probe(group, cExpression, "%llu", "(unsigned long long)(" + cExpression + ")", expected));
    }

    private static <T> List<T> append(List<T> list, T element) {
        List<T> copy = new ArrayList<>(list);
        copy.add(element);
        return copy;
    }

    // ------------------------------------------------------------------ the tests

    @TestFactory
    Stream<DynamicTest> everyValueMatchesGcc() {
        Map<String, List<String>> mismatches = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (int i = 0; i < PROBES.size(); i++) {
            Probe p = PROBES.get(i);
            counts.merge(p.group(), 1, Integer::sum);
            List<String> list = mismatches.computeIfAbsent(p.group(), g -> new ArrayList<>());
            if (ACTUAL.get(i) != p.expected()) {
                list.add(p.what() + ": Java " + p.expected() + ", C " + ACTUAL.get(i));
            }
        }
        return mismatches.entrySet().stream().map(e -> DynamicTest.dynamicTest(
                e.getKey() + " (" + counts.get(e.getKey()) + " values)",
                () -> assertTrue(e.getValue().isEmpty(), e.getKey() + ": " + e.getValue().size()
                        + " value(s) differ from gcc's:\n  " + String.join("\n  ", e.getValue()))));
    }

    @Test
    void everyStructPanvmNeedsIsGenerated() {
        for (String tag : List.of("kvm_run", "kvm_regs", "kvm_sregs", "kvm_segment", "kvm_dtable", "kvm_fpu",
                "kvm_userspace_memory_region", "kvm_cpuid2", "kvm_cpuid_entry2", "kvm_msrs", "kvm_msr_entry",
                "kvm_msr_list", "kvm_pit_config", "kvm_irqfd", "kvm_ioeventfd", "kvm_irq_level", "kvm_lapic_state",
                "kvm_mp_state", "kvm_signal_mask", "kvm_clock_data")) {
            assertTrue(KvmStructs.ALL.containsKey(tag), "KvmStructs has no layout of struct " + tag);
        }
    }

    /** Known values, so that a broken generator is caught even if the comparison above were fooled. */
    @Test
    void knownValues() {
        assertEquals(144, KvmStructs.KVM_REGS.byteSize());
        assertEquals(312, KvmStructs.KVM_SREGS.byteSize());
        assertEquals(2352, KvmStructs.KVM_RUN.byteSize());
        assertEquals(8, KvmStructs.KVM_RUN.byteOffset(groupElement("exit_reason")));
        assertEquals(34, KvmStructs.KVM_RUN.byteOffset(groupElement("$anon0"), groupElement("io"), groupElement("port")));
        assertEquals(40, KvmStructs.KVM_RUN.byteOffset(groupElement("$anon0"), groupElement("io"),
                groupElement("data_offset")));
        assertEquals(40, KvmStructs.KVM_CPUID_ENTRY2.byteSize());
        assertEquals(8, KvmStructs.KVM_CPUID2_ENTRIES_OFFSET);
        assertEquals(0xAE80L, KvmIoctls.KVM_RUN);
        assertEquals(0x8090AE81L, KvmIoctls.KVM_GET_REGS);
        assertEquals(0x4020AE46L, KvmIoctls.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0xC008AE05L, KvmIoctls.KVM_GET_SUPPORTED_CPUID);
        assertEquals(12, KvmConstants.KVM_API_VERSION);
        assertEquals(2, KvmConstants.KVM_EXIT_IO);
        assertEquals(5, KvmConstants.KVM_EXIT_HLT);
    }

    // ------------------------------------------------------------------ processes

    private static Path findOnPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        fail(program + " is not on PATH (" + path + "): KvmLayoutTest compiles a C program against "
                + "<linux/kvm.h>; install gcc");
        throw new AssertionError("unreachable");
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", command) + " timed out");
        }
        assertEquals(0, p.exitValue(), () -> String.join(" ", command) + " failed:\n" + out);
        return out;
    }
}
