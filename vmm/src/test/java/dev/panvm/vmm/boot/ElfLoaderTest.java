package dev.panvm.vmm.boot;

import dev.panvm.vmm.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElfLoaderTest {
    private static final long RAM = 4L << 20;

    @TempDir
    Path dir;
    GuestMemory mem;

    @BeforeEach
    void allocate() throws Exception {
        mem = GuestMemory.allocate(new long[][] {{0, RAM}});
    }

    @AfterEach
    void free() {
        mem.close();
    }

    private Path write(TestElf elf) throws Exception {
        Path p = dir.resolve("kernel.elf");
        Files.write(p, elf.build());
        return p;
    }

    private String loadError(Consumer<TestElf> breakIt) throws Exception {
        TestElf elf = new TestElf();
        breakIt.accept(elf);
        Path p = write(elf);
        return assertThrows(KernelLoadException.class, () -> ElfLoader.load(p, mem, 0x100000)).getMessage();
    }

    @Test
    void loadsSegmentAtPhysicalAddressAndZeroesBss() throws Exception {
        TestElf elf = new TestElf();
        elf.payload = new byte[] {1, 2, 3, 4, 5};
        elf.memsz = 64;
        mem.slice(0x100000, 64).fill((byte) 0x55);
        ElfKernel k = ElfLoader.load(write(elf), mem, 0x100000);
        assertEquals(0x100000, k.entry());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, mem.slice(0x100000, 5).toArray(JAVA_BYTE));
        byte[] bss = mem.slice(0x100005, 59).toArray(JAVA_BYTE);
        assertTrue(Arrays.equals(bss, new byte[59]), "bytes past p_filesz must be zeroed");
        assertTrue(k.pvhEntry().isEmpty());
    }

    @Test
    void upperHalfKernelLoadsByPhysicalAddress() throws Exception {
        TestElf elf = new TestElf();
        elf.vaddr = 0xffffffff80100000L;
        elf.entry = 0xffffffff80100002L;
        ElfKernel k = ElfLoader.load(write(elf), mem, 0x100000);
        assertEquals(0xffffffff80100002L, k.entry());
        assertEquals(0x100000, k.physStart());
        assertEquals((byte) 0xf4, mem.slice(0x100000, 1).get(JAVA_BYTE, 0));
    }

    @Test
    void findsPvhEntryNote() throws Exception {
        TestElf elf = new TestElf();
        elf.pvhEntry = 0x100001L;
        assertEquals(0x100001L, ElfLoader.load(write(elf), mem, 0x100000).pvhEntry().orElseThrow());
    }

    @Test
    void rejectsMissingFile() {
        String msg = assertThrows(KernelLoadException.class,
                () -> ElfLoader.load(dir.resolve("nonexistent"), mem, 0)).getMessage();
        assertTrue(msg.contains("no such file"), msg);
    }

    @Test
    void rejectsNonElf() throws Exception {
        Path p = dir.resolve("text");
        Files.writeString(p, "this is not a kernel, just some text that is long enough to hold a header.........");
        String msg = assertThrows(KernelLoadException.class, () -> ElfLoader.load(p, mem, 0)).getMessage();
        assertTrue(msg.contains("not an ELF file"), msg);
    }

    @Test
    void rejectsEmptyFile() throws Exception {
        Path p = dir.resolve("empty");
        Files.write(p, new byte[0]);
        String msg = assertThrows(KernelLoadException.class, () -> ElfLoader.load(p, mem, 0)).getMessage();
        assertTrue(msg.contains("too short"), msg);
    }

    @Test
    void rejects32BitElf() throws Exception {
        assertTrue(loadError(e -> e.elfClass = 1).contains("not a 64-bit ELF"));
    }

    @Test
    void rejectsBigEndian() throws Exception {
        assertTrue(loadError(e -> e.dataEncoding = 2).contains("little-endian"));
    }

    @Test
    void rejectsWrongMachine() throws Exception {
        String msg = loadError(e -> e.machine = 183); // EM_AARCH64
        assertTrue(msg.contains("machine 183") && msg.contains("not x86_64"), msg);
    }

    @Test
    void rejectsSharedObject() throws Exception {
        assertTrue(loadError(e -> e.type = 3).contains("not an executable"));
    }

    @Test
    void rejectsWrongProgramHeaderSize() throws Exception {
        assertTrue(loadError(e -> e.phentsize = 32).contains("program header size"));
    }

    @Test
    void rejectsFileSizeLargerThanMemSize() throws Exception {
        assertTrue(loadError(e -> e.memsz = 2).contains("p_filesz exceeds p_memsz"));
    }

    @Test
    void rejectsSegmentOutsideRam() throws Exception {
        String msg = loadError(e -> {
            e.paddr = RAM - 2;
            e.entry = e.vaddr;
        });
        assertTrue(msg.contains("does not fit in guest RAM"), msg);
    }

    @Test
    void rejectsHugeBssBeyondRam() throws Exception {
        assertTrue(loadError(e -> e.memsz = 1L << 40).contains("does not fit in guest RAM"));
    }

    @Test
    void rejectsSegmentBelowTheBootArea() throws Exception {
        String msg = loadError(e -> {
            e.paddr = 0x1000;
        });
        assertTrue(msg.contains("boot structures"), msg);
    }

    @Test
    void rejectsEntryOutsideSegments() throws Exception {
        assertTrue(loadError(e -> e.entry = 0x200000).contains("entry point"));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 20, 63, 64, 100, 119, 121})
    void rejectsEveryTruncation(int length) throws Exception {
        byte[] whole = new TestElf().build();
        Path p = dir.resolve("truncated");
        Files.write(p, Arrays.copyOf(whole, Math.min(length, whole.length - 1)));
        KernelLoadException e = assertThrows(KernelLoadException.class, () -> ElfLoader.load(p, mem, 0x100000));
        assertTrue(e.getMessage().startsWith("kernel " + p + ": "), e.getMessage());
    }

    @Test
    void pvhNoteParserIgnoresOtherNotesAndStopsAtGarbage() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 4).putInt(4, 4).putInt(8, 3).put(12, new byte[] {'G', 'N', 'U', 0}).putInt(16, 7);
        b.putInt(20, 4).putInt(24, 0x7fffffff).putInt(28, 18); // descsz runs past the end
        assertTrue(ElfLoader.pvhEntry(b).isEmpty());
    }
}
