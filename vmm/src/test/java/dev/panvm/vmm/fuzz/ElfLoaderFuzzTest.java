package dev.panvm.vmm.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panvm.virtio.fuzz.Watchdog;
import dev.panvm.vmm.boot.ElfKernel;
import dev.panvm.vmm.boot.ElfLoader;
import dev.panvm.vmm.boot.KernelLoadException;
import dev.panvm.vmm.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The ELF loader ({@link ElfLoader#parse} then {@link ElfLoader#load}) on any file: the input's
 * bytes are the kernel image, loaded into guest RAM of two regions (128 KiB at 0, 64 KiB at
 * 256 KiB) filled with a pattern, with the boot area below 4 KiB. The seeds are small valid
 * images (one or more PT_LOAD segments, bss, upper-half virtual addresses, a PVH note), so the
 * fuzzer starts past the header checks.
 *
 * <p>Oracles: the only failure is {@link KernelLoadException}, with a one-line message naming
 * the file; nothing else escapes (no guest memory access outside RAM, which the vmm's memory
 * turns into an exception, no buffer or index error); every call returns in bounded time. On
 * success: the segments are exactly the image's PT_LOAD headers with a size (an independent
 * reading of the program headers), inside RAM, above the boot area, not overlapping, the entry
 * point inside one of them, each segment's file bytes in RAM at its physical address with the
 * rest of it zeroed, and every byte of RAM outside the segments untouched.
 */
class ElfLoaderFuzzTest {
    private static final long MIN_PHYS = 0x1000;
    private static final long[][] RAM = {{0, 0x20000}, {0x40000, 0x10000}};
    private static final byte PATTERN = (byte) 0xa5;
    private static final MemorySegment PATTERN_BYTES = MemorySegment.ofArray(new byte[0x20000]).fill(PATTERN);
    private static final GuestMemory MEMORY;
    private static final Path FILE;

    static {
        try {
            MEMORY = GuestMemory.allocate(RAM);
            Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
            FILE = Files.createTempFile(dir, "panvm-fuzz-kernel", ".elf");
            FILE.toFile().deleteOnExit();
            fillPattern();
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static void fillPattern() {
        for (GuestMemory.Region r : MEMORY.regions()) {
            r.host().fill(PATTERN);
        }
    }

    @FuzzTest
    void kernels(FuzzedDataProvider in) throws Throwable {
        byte[] image = in.consumeRemainingAsBytes();
        Watchdog.input(() -> loadOne(image));
    }

    private static void loadOne(byte[] image) throws Throwable {
        Files.write(FILE, image);
        ElfKernel kernel;
        try {
            kernel = Watchdog.call("parse", () -> ElfLoader.parse(FILE));
        } catch (KernelLoadException e) {
            checkMessage(e);
            checkUntouched(List.of());
            return;
        }
        checkParsed(kernel, image, programHeaders(image));
        try {
            Watchdog.call("load", () -> ElfLoader.load(kernel, FILE, MEMORY, MIN_PHYS));
        } catch (KernelLoadException e) {
            checkMessage(e);
            // A load that fails part way may have written earlier segments, but nothing else.
            checkUntouched(kernel.segments());
            fillPattern();
            return;
        }
        checkLoaded(kernel, image);
        checkUntouched(kernel.segments());
        fillPattern();
    }

    private static void checkMessage(KernelLoadException e) {
        String m = e.getMessage();
        assertTrue(m != null && m.startsWith("kernel " + FILE + ": "), "message names the file: " + m);
        assertEquals(1, m.lines().count(), "one-line message: " + m);
    }

    /** PT_LOAD headers with p_memsz > 0, read independently of the loader: {paddr, vaddr, offset, filesz, memsz}. */
    private static List<long[]> programHeaders(byte[] image) {
        List<long[]> out = new ArrayList<>();
        if (image.length < 64) {
            return out;
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        long phoff = b.getLong(32);
        int phnum = Short.toUnsignedInt(b.getShort(56));
        if (phoff < 0 || phoff > image.length) {
            return out;
        }
        for (int i = 0; i < phnum; i++) {
            long at = phoff + 56L * i;
            if (at > image.length - 56) {
                return List.of();
            }
            if (b.getInt((int) at) == 1 && b.getLong((int) at + 40) != 0) {
                out.add(new long[] {b.getLong((int) at + 24), b.getLong((int) at + 16), b.getLong((int) at + 8),
                        b.getLong((int) at + 32), b.getLong((int) at + 40)});
            }
        }
        return out;
    }

    private static void checkParsed(ElfKernel kernel, byte[] image, List<long[]> expected) {
        List<ElfKernel.Segment> segments = kernel.segments();
        assertEquals(expected.size(), segments.size(), "segments against the program headers");
        for (int i = 0; i < segments.size(); i++) {
            ElfKernel.Segment s = segments.get(i);
            long[] e = expected.get(i);
            assertArrayEquals(e, new long[] {s.physAddr(), s.virtAddr(), s.fileOffset(), s.fileSize(), s.memSize()}, "segment " + i);
            assertTrue(s.fileOffset() >= 0 && s.fileSize() >= 0 && s.fileSize() <= image.length - s.fileOffset(),
                    "segment " + i + " data outside the file");
            assertTrue(s.memSize() > 0 && Long.compareUnsigned(s.fileSize(), s.memSize()) <= 0, "segment " + i + " sizes");
            assertTrue(s.physAddr() >= 0 && s.physAddr() + s.memSize() > s.physAddr(), "segment " + i + " physical range overflows");
            for (int j = 0; j < i; j++) {
                ElfKernel.Segment o = segments.get(j);
                assertTrue(s.physAddr() >= o.physAddr() + o.memSize() || o.physAddr() >= s.physAddr() + s.memSize(),
                        "segments " + j + " and " + i + " overlap");
            }
        }
        assertTrue(segments.stream().anyMatch(s -> Long.compareUnsigned(kernel.entry() - s.virtAddr(), s.memSize()) < 0),
                "entry point outside every segment");
        kernel.pvhEntry().ifPresent(p -> assertTrue(p >= 0 && p <= 0xffff_ffffL, "PVH entry " + p));
        assertTrue(kernel.physStart() <= kernel.physEnd());
    }

    private static void checkLoaded(ElfKernel kernel, byte[] image) {
        for (ElfKernel.Segment s : kernel.segments()) {
            assertTrue(Long.compareUnsigned(s.physAddr(), MIN_PHYS) >= 0, "segment below the boot area");
            assertTrue(MEMORY.contains(s.physAddr(), s.memSize()), "segment outside RAM");
            byte[] loaded = MEMORY.slice(s.physAddr(), s.fileSize()).toArray(JAVA_BYTE);
            assertArrayEquals(Arrays.copyOfRange(image, (int) s.fileOffset(), (int) (s.fileOffset() + s.fileSize())), loaded,
                    "segment data at " + Long.toHexString(s.physAddr()));
            MemorySegment bss = MEMORY.slice(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize());
            assertEquals(-1, bss.mismatch(MemorySegment.ofArray(new byte[(int) bss.byteSize()])), "bss not zeroed");
        }
    }

    /** Every byte of RAM outside {@code segments} still holds the pattern. */
    private static void checkUntouched(List<ElfKernel.Segment> segments) {
        for (GuestMemory.Region r : MEMORY.regions()) {
            long start = r.guestAddress();
            long end = r.end();
            List<long[]> cuts = new ArrayList<>();
            for (ElfKernel.Segment s : segments) {
                long lo = Math.max(start, s.physAddr());
                long hi = Math.min(end, s.physAddr() + s.memSize());
                if (lo < hi) {
                    cuts.add(new long[] {lo, hi});
                }
            }
            cuts.sort((a, b) -> Long.compare(a[0], b[0]));
            long pos = start;
            for (long[] c : cuts) {
                if (c[0] > pos) {
                    checkPattern(r, pos, c[0]);
                }
                pos = Math.max(pos, c[1]);
            }
            if (pos < end) {
                checkPattern(r, pos, end);
            }
        }
    }

    private static void checkPattern(GuestMemory.Region r, long from, long to) {
        MemorySegment part = r.host().asSlice(from - r.guestAddress(), to - from);
        long at = part.mismatch(PATTERN_BYTES.asSlice(0, to - from));
        if (at >= 0) {
            fail("RAM at " + Long.toHexString(from + at) + " changed outside the kernel's segments");
        }
    }
}
