package dev.panvm.vmm.boot;

import java.util.List;
import java.util.OptionalLong;

/**
 * What the ELF loader learned from a kernel image.
 *
 * @param entry      {@code e_entry}: the 64-bit entry point (a virtual address for upper-half kernels)
 * @param pvhEntry   the 32-bit physical entry from a {@code XEN_ELFNOTE_PHYS32_ENTRY} note, if any
 * @param segments   the loadable segments, in file order
 */
public record ElfKernel(long entry, OptionalLong pvhEntry, List<Segment> segments) {

    /** One PT_LOAD segment: where it lives physically and virtually, and its sizes. */
    public record Segment(long physAddr, long virtAddr, long fileOffset, long fileSize, long memSize) {}

    public ElfKernel {
        segments = List.copyOf(segments);
    }

    /** Lowest and highest (exclusive) physical addresses occupied by the image. */
    public long physStart() {
        return segments.stream().mapToLong(Segment::physAddr).min().orElseThrow();
    }

    public long physEnd() {
        return segments.stream().mapToLong(s -> s.physAddr() + s.memSize()).max().orElseThrow();
    }
}
