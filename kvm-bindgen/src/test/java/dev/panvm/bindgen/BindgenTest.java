package dev.panvm.bindgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The generator's parts on small C snippets, and once end to end on the real headers. */
class BindgenTest {
    private static final String TYPES = """
            typedef unsigned char __u8;
            typedef unsigned short __u16;
            typedef unsigned int __u32;
            __extension__ typedef unsigned long long __u64;
            typedef void (*__kernel_sighandler_t)(int);
            """;
    private static final String IOC = """
            #define _IOC_NRBITS 8
            #define _IOC_TYPEBITS 8
            #define _IOC_SIZEBITS 14
            #define _IOC_DIRBITS 2
            #define _IOC_NRSHIFT 0
            #define _IOC_TYPESHIFT (_IOC_NRSHIFT+_IOC_NRBITS)
            #define _IOC_SIZESHIFT (_IOC_TYPESHIFT+_IOC_TYPEBITS)
            #define _IOC_DIRSHIFT (_IOC_SIZESHIFT+_IOC_SIZEBITS)
            #define _IOC_NONE 0U
            #define _IOC_WRITE 1U
            #define _IOC_READ 2U
            #define KVMIO 0xAE
            """;

    private static Defines defines(String declarations, String macros) {
        return new Defines(macros, Parser.parseTranslationUnit(TYPES + declarations));
    }

    private static Laid.Aggregate struct(String declarations, String tag) {
        return defines(declarations, "").layouts().struct(tag);
    }

    private static List<Long> offsets(Laid.Aggregate a) {
        return a.members().stream().map(Laid.Member::offset).toList();
    }

    @Test
    void padsByNaturalAlignment() {
        Laid.Aggregate s = struct("struct s { __u8 a; __u64 b; __u16 c, d; };", "s");
        assertEquals(List.of(0L, 8L, 16L, 18L), offsets(s));
        assertEquals(24, s.size());
        assertEquals(8, s.align());
    }

    @Test
    void namesAnonymousMembersAndRoundsUnions() {
        Laid.Aggregate s = struct("struct s { __u32 x; union { __u64 a; char b[12]; }; struct { __u8 c; }; };", "s");
        assertEquals(List.of("x", "$anon0", "$anon1"), s.members().stream().map(Laid.Member::name).toList());
        assertEquals(List.of(0L, 8L, 24L), offsets(s));
        assertEquals(16, s.members().get(1).layout().size());
        assertEquals(32, s.size());
    }

    @Test
    void evaluatesArrayLengths() {
        Laid.Aggregate s = struct("struct s { __u64 bits[(256 + 63) / 64]; __u8 fpr[8][16]; char regs[0x400]; };", "s");
        assertEquals(List.of(0L, 32L, 160L), offsets(s));
        assertEquals(32 + 128 + 1024, s.size());
    }

    @Test
    void flexibleArrayAddsAlignmentButNoSize() {
        String c = "struct s { __u32 n; struct { struct { } __empty_e; __u64 e[]; }; };";
        Defines d = defines(c, "");
        Laid.Aggregate s = d.layouts().struct("s");
        assertEquals(8, s.size());
        assertEquals(8, s.align());
        String java = new Emitter("test.h", null).structs(List.of("s"), d.layouts());
        assertTrue(java.contains("public static final long S_E_OFFSET = 8L;"), java);
        assertTrue(java.contains("S_E_ELEMENT = ValueLayout.JAVA_LONG;"), java);
        assertTrue(java.contains(".withByteAlignment(8).withName(\"s\")"), java);
        assertTrue(java.contains("MemoryLayout.paddingLayout(4)"), java);
    }

    @Test
    void failsLoudlyOnWhatItDoesNotLayOut() {
        String c = """
                struct bits { __u8 a:3; };
                struct packed { __u32 a; } __attribute__((packed));
                struct ptr { void *p; };
                struct unknown { foo_t a; };
                struct fine { __u32 a; };
                """;
        Defines d = defines(c, "");
        assertEquals(4, d.layouts().struct("fine").size());
        assertTrue(message(() -> d.layouts().struct("bits")).contains("struct bits.a is a bitfield"));
        assertTrue(message(() -> d.layouts().struct("packed")).contains("__attribute__((packed))"));
        assertTrue(message(() -> d.layouts().struct("ptr")).contains("pointer to void"));
        assertTrue(message(() -> d.layouts().struct("unknown")).contains("unknown type name 'foo_t'"));
        assertTrue(message(() -> d.layouts().struct("missing")).contains("no definition of struct missing"));
    }

    private static String message(Runnable r) {
        return assertThrows(BindgenException.class, r::run).getMessage();
    }

    @Test
    void evaluatesLikeC() {
        Defines d = defines("enum { A, B = 5, C };", """
                #define INT_MIN_SHIFT (1 << 31)
                #define BIG (1ULL << 63)
                #define UINT 0xffffffff
                #define NEG_SHIFT (-16 >> 2)
                #define UDIV (0U - 1) / 2
                #define FROM_ENUM (1 << C)
                #define TERNARY (A ? 3 : 4)
                #define CAST ((__u8)300)
                #define SIZE sizeof(__u64)
                """);
        assertEquals(Integer.MIN_VALUE, d.value("INT_MIN_SHIFT").value());
        assertEquals(Long.MIN_VALUE, d.value("BIG").value());
        assertEquals(0xFFFF_FFFFL, d.value("UINT").value());
        assertTrue(d.value("UINT").unsigned());
        assertEquals(-4, d.value("NEG_SHIFT").value());
        assertEquals(0x7FFF_FFFFL, d.value("UDIV").value());
        assertEquals(64, d.value("FROM_ENUM").value());
        assertEquals(4, d.value("TERNARY").value());
        assertEquals(44, d.value("CAST").value());
        assertEquals(8, d.value("SIZE").value());
        assertTrue(assertThrows(BindgenException.class, () -> d.value("NOPE")).getMessage().contains("unknown identifier"));
    }

    @Test
    void encodesIoctls() {
        Defines d = defines("struct kvm_regs { __u64 r[18]; };", IOC + """
                #define _IO(type,nr) _IOC(_IOC_NONE,(type),(nr),0)
                #define KVM_RUN _IO(KVMIO, 0x80)
                #define KVM_GET_REGS _IOR(KVMIO, 0x81, struct kvm_regs)
                #define KVM_SET_REGS _IOW(KVMIO, 0x82, struct kvm_regs)
                #define KVM_SET_IDENTITY_MAP_ADDR _IOW(KVMIO, 0x48, __u64)
                #define KVM_GET_TWICE _IOWR(KVMIO, 0x83, struct kvm_regs)
                #define KVM_ALIAS KVM_GET_TWICE
                """);
        assertEquals(0xAE80L, d.ioctl("KVM_RUN").number());
        assertEquals(0x8090AE81L, d.ioctl("KVM_GET_REGS").number());
        assertEquals(0x4090AE82L, d.ioctl("KVM_SET_REGS").number());
        assertEquals(0x4008AE48L, d.ioctl("KVM_SET_IDENTITY_MAP_ADDR").number());
        assertEquals(0xC090AE83L, d.ioctl("KVM_ALIAS").number());
    }

    @Test
    void generatesTheRealBindingsDeterministically() throws IOException {
        String declarations = Main.run("gcc", "-E", "-P");
        String macros = Main.run("gcc", "-E", "-dM");
        Map<String, String> first = Main.generate(declarations, macros, "1.0");
        Map<String, String> second = Main.generate(declarations, macros, "1.0");
        assertEquals(first, second);
        assertEquals(List.of("KvmStructs.java", "KvmIoctls.java", "KvmConstants.java"), List.copyOf(first.keySet()));
        assertTrue(first.get("KvmStructs.java").contains("public static final StructLayout KVM_RUN = "));
        assertTrue(first.get("KvmIoctls.java").contains("public static final long KVM_RUN = 0xae80L;"));
        assertTrue(first.get("KvmConstants.java").contains("public static final int KVM_EXIT_IO = 2;"));
        assertFalse(first.get("KvmStructs.java").contains("$anon0\").withName"));
    }
}
