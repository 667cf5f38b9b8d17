package dev.panvm.vmm.boot;

import dev.panvm.vmm.arch.x86_64.Layout;
import dev.panvm.vmm.memory.GuestMemory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The PVH boot protocol's {@code struct hvm_start_info} (Xen's {@code arch-x86/hvm/start_info.h},
 * version 1) and its memory map. panvm hands the same structure to both entry paths: in EBX for
 * PVH, in RBX for the direct 64-bit entry.
 */
public final class HvmStartInfo {
    private HvmStartInfo() {}

    public static final int MAGIC = 0x336ec578;
    public static final int VERSION = 1;
    /** {@code hvm_memmap_table_entry.type}: usable RAM, and reserved, as in the E820 map. */
    public static final int TYPE_RAM = 1;
    public static final int TYPE_RESERVED = 2;
    private static final int ENTRY_SIZE = 24;

    /** One memory-map entry. */
    public record MemmapEntry(long address, long size, int type) {}

    /** The memory map panvm reports for its layout and RAM regions. */
    public static List<MemmapEntry> memoryMap(GuestMemory mem) {
        List<MemmapEntry> map = new ArrayList<>();
        for (GuestMemory.Region r : mem.regions()) {
            if (r.guestAddress() == 0) {
                map.add(new MemmapEntry(0, Layout.LOW_RAM_END, TYPE_RAM));
                map.add(new MemmapEntry(Layout.LOW_RAM_END, Layout.HIMEM_START - Layout.LOW_RAM_END, TYPE_RESERVED));
                map.add(new MemmapEntry(Layout.HIMEM_START, r.size() - Layout.HIMEM_START, TYPE_RAM));
            } else {
                map.add(new MemmapEntry(r.guestAddress(), r.size(), TYPE_RAM));
            }
        }
        return map;
    }

    /**
     * Writes the command line, memory map and start info at their {@link Layout} addresses.
     *
     * @return the guest-physical address of the start info
     */
    public static long write(GuestMemory mem, String cmdline, List<MemmapEntry> map) {
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (cmd.length > Layout.CMDLINE_MAX) {
            throw new IllegalArgumentException("kernel command line is " + cmd.length + " bytes; the limit is " + Layout.CMDLINE_MAX);
        }
        if (map.size() > Layout.MEMMAP_MAX_ENTRIES) {
            throw new IllegalArgumentException("memory map has " + map.size() + " entries; the limit is " + Layout.MEMMAP_MAX_ENTRIES);
        }
        mem.write(Layout.CMDLINE_ADDR, cmd);
        mem.putByte(Layout.CMDLINE_ADDR + cmd.length, (byte) 0);
        for (int i = 0; i < map.size(); i++) {
            long e = Layout.MEMMAP_ADDR + (long) i * ENTRY_SIZE;
            mem.putLong(e, map.get(i).address());
            mem.putLong(e + 8, map.get(i).size());
            mem.putInt(e + 16, map.get(i).type());
            mem.putInt(e + 20, 0);
        }
        long s = Layout.START_INFO_ADDR;
        mem.slice(s, Layout.MEMMAP_ADDR - s).fill((byte) 0);
        mem.putInt(s, MAGIC);
        mem.putInt(s + 4, VERSION);
        mem.putInt(s + 8, 0);                       // flags
        mem.putInt(s + 12, 0);                      // nr_modules
        mem.putLong(s + 16, 0);                     // modlist_paddr
        mem.putLong(s + 24, Layout.CMDLINE_ADDR);   // cmdline_paddr
        mem.putLong(s + 32, 0);                     // rsdp_paddr: no ACPI yet
        mem.putLong(s + 40, Layout.MEMMAP_ADDR);    // memmap_paddr
        mem.putInt(s + 48, map.size());             // memmap_entries
        return s;
    }
}
