package dev.panvm.vmm.boot;

import dev.panvm.vmm.memory.GuestMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Loads an ELF64 x86_64 kernel into guest memory: each PT_LOAD segment at its physical address
 * ({@code p_paddr}, as QEMU and Linux's PVH boot do), the bytes past {@code p_filesz} zeroed.
 *
 * <p>The file is untrusted input: every header field is checked against the file size and
 * against guest RAM before anything is read or written, and every failure says what is wrong
 * in one line. Segment data moves from the file straight into guest memory.
 */
public final class ElfLoader {
    private ElfLoader() {}

    static final int EM_X86_64 = 62;
    static final int ET_EXEC = 2;
    static final int PT_LOAD = 1;
    static final int PT_NOTE = 4;
    /** {@code XEN_ELFNOTE_PHYS32_ENTRY}: the PVH 32-bit entry point, in a note named "Xen". */
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    private static final int EHDR_SIZE = 64;
    private static final int PHDR_SIZE = 56;
    private static final int MAX_PHDRS = 64;

    /** Parses the headers of {@code path} without loading anything. */
    public static ElfKernel parse(Path path) throws KernelLoadException {
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
            return parse(file, path);
        } catch (NoSuchFileException e) {
            throw new KernelLoadException("kernel " + path + ": no such file");
        } catch (IOException e) {
            throw new KernelLoadException("kernel " + path + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Parses {@code path} and copies its segments into {@code mem}. Segments must lie inside RAM
     * and at or above {@code minPhysAddr}, where the VMM's own boot structures end.
     */
    public static ElfKernel load(Path path, GuestMemory mem, long minPhysAddr) throws KernelLoadException {
        return load(parse(path), path, mem, minPhysAddr);
    }

    /** Copies the segments of {@code kernel}, parsed earlier from {@code path}, into {@code mem}. */
    public static ElfKernel load(ElfKernel kernel, Path path, GuestMemory mem, long minPhysAddr)
            throws KernelLoadException {
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
            for (ElfKernel.Segment s : kernel.segments()) {
                if (Long.compareUnsigned(s.physAddr(), minPhysAddr) < 0) {
                    throw new KernelLoadException(String.format(
                            "kernel %s: segment at physical %#x is below %#x, where panvm keeps its boot structures",
                            path, s.physAddr(), minPhysAddr));
                }
                if (!mem.contains(s.physAddr(), s.memSize())) {
                    throw new KernelLoadException(String.format(
                            "kernel %s: segment [%#x, %#x) does not fit in guest RAM (%d MiB); give the VM more memory",
                            path, s.physAddr(), s.physAddr() + s.memSize(), mem.size() >> 20));
                }
                ByteBuffer dst = mem.slice(s.physAddr(), s.fileSize()).asByteBuffer();
                long pos = s.fileOffset();
                while (dst.hasRemaining()) {
                    int n = file.read(dst, pos);
                    if (n < 0) {
                        throw new KernelLoadException("kernel " + path + ": file ends inside a segment");
                    }
                    pos += n;
                }
                mem.slice(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize()).fill((byte) 0);
            }
            return kernel;
        } catch (NoSuchFileException e) {
            throw new KernelLoadException("kernel " + path + ": no such file");
        } catch (IOException e) {
            throw new KernelLoadException("kernel " + path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static ElfKernel parse(FileChannel file, Path path) throws IOException, KernelLoadException {
        long fileSize = file.size();
        String what = "kernel " + path + ": ";
        if (fileSize < EHDR_SIZE) {
            throw new KernelLoadException(what + "not an ELF file (" + fileSize + " bytes, too short for an ELF header)");
        }
        ByteBuffer eh = read(file, 0, EHDR_SIZE);
        if (eh.getInt(0) != 0x464c457f) {
            throw new KernelLoadException(what + "not an ELF file (no \\x7fELF magic)");
        }
        if (eh.get(4) != 2) {
            throw new KernelLoadException(what + "not a 64-bit ELF (EI_CLASS " + eh.get(4) + "); panvm boots ELF64 kernels");
        }
        if (eh.get(5) != 1) {
            throw new KernelLoadException(what + "not a little-endian ELF");
        }
        int machine = Short.toUnsignedInt(eh.getShort(18));
        if (machine != EM_X86_64) {
            throw new KernelLoadException(what + "ELF for machine " + machine + ", not x86_64 (" + EM_X86_64 + ")");
        }
        int type = Short.toUnsignedInt(eh.getShort(16));
        if (type != ET_EXEC) {
            throw new KernelLoadException(what + "ELF type " + type + " is not an executable (ET_EXEC)");
        }
        long entry = eh.getLong(24);
        long phoff = eh.getLong(32);
        int phentsize = Short.toUnsignedInt(eh.getShort(54));
        int phnum = Short.toUnsignedInt(eh.getShort(56));
        if (phentsize != PHDR_SIZE) {
            throw new KernelLoadException(what + "program header size " + phentsize + ", expected " + PHDR_SIZE);
        }
        if (phnum == 0 || phnum > MAX_PHDRS) {
            throw new KernelLoadException(what + phnum + " program headers (expected 1.." + MAX_PHDRS + ")");
        }
        if (phoff < 0 || phoff > fileSize || (long) phnum * PHDR_SIZE > fileSize - phoff) {
            throw new KernelLoadException(what + "program headers lie outside the file (truncated?)");
        }
        ByteBuffer ph = read(file, phoff, phnum * PHDR_SIZE);
        List<ElfKernel.Segment> segments = new ArrayList<>();
        OptionalLong pvh = OptionalLong.empty();
        for (int i = 0; i < phnum; i++) {
            int base = i * PHDR_SIZE;
            int pType = ph.getInt(base);
            long offset = ph.getLong(base + 8);
            long vaddr = ph.getLong(base + 16);
            long paddr = ph.getLong(base + 24);
            long filesz = ph.getLong(base + 32);
            long memsz = ph.getLong(base + 40);
            if (pType != PT_LOAD && pType != PT_NOTE) {
                continue;
            }
            if (offset < 0 || filesz < 0 || offset > fileSize || filesz > fileSize - offset) {
                throw new KernelLoadException(String.format(
                        "%sprogram header %d: data [%#x, +%#x) lies outside the %d-byte file (truncated?)",
                        what, i, offset, filesz, fileSize));
            }
            if (pType == PT_NOTE) {
                OptionalLong found = pvhEntry(read(file, offset, (int) Math.min(filesz, 1 << 16)));
                if (found.isPresent()) {
                    pvh = found;
                }
                continue;
            }
            if (memsz < 0 || Long.compareUnsigned(filesz, memsz) > 0) {
                throw new KernelLoadException(what + "program header " + i + ": p_filesz exceeds p_memsz");
            }
            if (paddr < 0 || paddr + memsz < paddr) {
                throw new KernelLoadException(String.format("%sprogram header %d: physical range at %#x overflows", what, i, paddr));
            }
            if (memsz > 0) {
                segments.add(new ElfKernel.Segment(paddr, vaddr, offset, filesz, memsz));
            }
        }
        if (segments.isEmpty()) {
            throw new KernelLoadException(what + "no loadable (PT_LOAD) segments");
        }
        checkNoOverlap(segments, what);
        boolean entryLoaded = segments.stream().anyMatch(s -> Long.compareUnsigned(entry - s.virtAddr(), s.memSize()) < 0);
        if (!entryLoaded) {
            throw new KernelLoadException(String.format("%sentry point %#x is not inside any loadable segment", what, entry));
        }
        return new ElfKernel(entry, pvh, segments);
    }

    private static void checkNoOverlap(List<ElfKernel.Segment> segments, String what) throws KernelLoadException {
        List<ElfKernel.Segment> sorted = new ArrayList<>(segments);
        sorted.sort((a, b) -> Long.compare(a.physAddr(), b.physAddr()));
        for (int i = 1; i < sorted.size(); i++) {
            ElfKernel.Segment prev = sorted.get(i - 1);
            if (prev.physAddr() + prev.memSize() > sorted.get(i).physAddr()) {
                throw new KernelLoadException(String.format("%ssegments overlap at physical %#x", what, sorted.get(i).physAddr()));
            }
        }
    }

    /** Walks ELF notes (namesz, descsz, type, name, desc; each 4-byte aligned) for the PVH entry. */
    static OptionalLong pvhEntry(ByteBuffer notes) {
        int pos = 0;
        while (pos + 12 <= notes.limit()) {
            long namesz = Integer.toUnsignedLong(notes.getInt(pos));
            long descsz = Integer.toUnsignedLong(notes.getInt(pos + 4));
            int type = notes.getInt(pos + 8);
            long nameStart = pos + 12L;
            long descStart = nameStart + align4(namesz);
            long next = descStart + align4(descsz);
            if (next > notes.limit()) {
                break;
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && descsz >= 4) {
                byte[] name = new byte[3];
                notes.get((int) nameStart, name);
                if (new String(name, StandardCharsets.US_ASCII).equals("Xen")) {
                    long desc = descsz >= 8 ? notes.getLong((int) descStart) : Integer.toUnsignedLong(notes.getInt((int) descStart));
                    return OptionalLong.of(desc & 0xffffffffL);
                }
            }
            pos = (int) next;
        }
        return OptionalLong.empty();
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    private static ByteBuffer read(FileChannel file, long pos, int size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (file.read(b, pos + b.position()) < 0) {
                break;
            }
        }
        b.flip();
        b.limit(size);
        return b;
    }
}
