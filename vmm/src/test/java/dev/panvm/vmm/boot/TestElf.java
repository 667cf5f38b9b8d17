package dev.panvm.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Builds small ELF64 images in memory for loader tests: one PT_LOAD segment with a given payload,
 * optionally a PT_NOTE carrying a PVH entry. Fields are public so a test can break one at a time.
 */
final class TestElf {
    static final int EHDR = 64;
    static final int PHDR = 56;

    byte elfClass = 2;
    byte dataEncoding = 1;
    short type = ElfLoader.ET_EXEC;
    short machine = ElfLoader.EM_X86_64;
    short phentsize = PHDR;
    long entry = 0x100000;
    long paddr = 0x100000;
    long vaddr = 0x100000;
    long memsz = -1; // -1: same as the payload
    byte[] payload = {(byte) 0xf4, (byte) 0xf4, (byte) 0xf4, (byte) 0xf4};
    Long pvhEntry;

    byte[] build() {
        int phnum = pvhEntry == null ? 1 : 2;
        int noteSize = 12 + 4 + 4;
        int dataOffset = EHDR + phnum * PHDR;
        int noteOffset = dataOffset + payload.length;
        int total = noteOffset + (pvhEntry == null ? 0 : noteSize);
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464c457f);
        b.put(4, elfClass);
        b.put(5, dataEncoding);
        b.put(6, (byte) 1);
        b.putShort(16, type);
        b.putShort(18, machine);
        b.putInt(20, 1);
        b.putLong(24, entry);
        b.putLong(32, EHDR);
        b.putShort(52, (short) EHDR);
        b.putShort(54, phentsize);
        b.putShort(56, (short) phnum);
        int ph = EHDR;
        b.putInt(ph, ElfLoader.PT_LOAD);
        b.putInt(ph + 4, 5);
        b.putLong(ph + 8, dataOffset);
        b.putLong(ph + 16, vaddr);
        b.putLong(ph + 24, paddr);
        b.putLong(ph + 32, payload.length);
        b.putLong(ph + 40, memsz < 0 ? payload.length : memsz);
        b.put(dataOffset, payload);
        if (pvhEntry != null) {
            ph += PHDR;
            b.putInt(ph, ElfLoader.PT_NOTE);
            b.putLong(ph + 8, noteOffset);
            b.putLong(ph + 32, noteSize);
            b.putInt(noteOffset, 4);
            b.putInt(noteOffset + 4, 4);
            b.putInt(noteOffset + 8, ElfLoader.XEN_ELFNOTE_PHYS32_ENTRY);
            b.put(noteOffset + 12, new byte[] {'X', 'e', 'n', 0});
            b.putInt(noteOffset + 16, pvhEntry.intValue());
        }
        return b.array();
    }
}
