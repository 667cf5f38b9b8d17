package dev.panvm.kvm;

import java.lang.foreign.MemorySegment;

import static dev.panvm.kvm.api.KvmStructs.KVM_DTABLE;
import static dev.panvm.kvm.api.KvmStructs.KVM_SREGS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The special registers of a vCPU ({@code struct kvm_sregs}): segment registers, descriptor
 * tables, control registers, EFER and the APIC base. {@code interruptBitmap} is KVM's bitmap of
 * pending external interrupts (only meaningful without an in-kernel irqchip).
 */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
                    Segment tr, Segment ldt, DescriptorTable gdt, DescriptorTable idt,
                    long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase,
                    long[] interruptBitmap) {

    public Sregs {
        interruptBitmap = interruptBitmap.clone();
    }

    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    static Sregs read(MemorySegment s) {
        long bitmap = off("interrupt_bitmap");
        long[] bits = new long[(int) ((KVM_SREGS.byteSize() - bitmap) / Long.BYTES)];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = s.get(JAVA_LONG, bitmap + (long) i * Long.BYTES);
        }
        return new Sregs(seg(s, "cs"), seg(s, "ds"), seg(s, "es"), seg(s, "fs"), seg(s, "gs"),
                seg(s, "ss"), seg(s, "tr"), seg(s, "ldt"), table(s, "gdt"), table(s, "idt"),
                s.get(JAVA_LONG, off("cr0")), s.get(JAVA_LONG, off("cr2")), s.get(JAVA_LONG, off("cr3")),
                s.get(JAVA_LONG, off("cr4")), s.get(JAVA_LONG, off("cr8")), s.get(JAVA_LONG, off("efer")),
                s.get(JAVA_LONG, off("apic_base")), bits);
    }

    void write(MemorySegment s) {
        cs.write(s, off("cs"));
        ds.write(s, off("ds"));
        es.write(s, off("es"));
        fs.write(s, off("fs"));
        gs.write(s, off("gs"));
        ss.write(s, off("ss"));
        tr.write(s, off("tr"));
        ldt.write(s, off("ldt"));
        writeTable(s, "gdt", gdt);
        writeTable(s, "idt", idt);
        s.set(JAVA_LONG, off("cr0"), cr0);
        s.set(JAVA_LONG, off("cr2"), cr2);
        s.set(JAVA_LONG, off("cr3"), cr3);
        s.set(JAVA_LONG, off("cr4"), cr4);
        s.set(JAVA_LONG, off("cr8"), cr8);
        s.set(JAVA_LONG, off("efer"), efer);
        s.set(JAVA_LONG, off("apic_base"), apicBase);
        long bitmap = off("interrupt_bitmap");
        for (int i = 0; i < interruptBitmap.length; i++) {
            s.set(JAVA_LONG, bitmap + (long) i * Long.BYTES, interruptBitmap[i]);
        }
    }

    private static long off(String field) {
        return Layouts.offsetOf(KVM_SREGS, field);
    }

    private static Segment seg(MemorySegment s, String name) {
        return Segment.read(s, off(name));
    }

    private static DescriptorTable table(MemorySegment s, String name) {
        long base = off(name);
        return new DescriptorTable(s.get(JAVA_LONG, base + Layouts.offsetOf(KVM_DTABLE, "base")),
                Short.toUnsignedInt(s.get(JAVA_SHORT, base + Layouts.offsetOf(KVM_DTABLE, "limit"))));
    }

    private static void writeTable(MemorySegment s, String name, DescriptorTable t) {
        long base = off(name);
        s.asSlice(base, KVM_DTABLE.byteSize()).fill((byte) 0);
        s.set(JAVA_LONG, base + Layouts.offsetOf(KVM_DTABLE, "base"), t.base());
        s.set(JAVA_SHORT, base + Layouts.offsetOf(KVM_DTABLE, "limit"), (short) t.limit());
    }

    @Override
    public String toString() {
        return String.format("cr0=%016x cr2=%016x cr3=%016x cr4=%016x efer=%016x%n"
                        + "cs=%04x(base %x l=%b) ss=%04x gdt=%x/%x idt=%x/%x",
                cr0, cr2, cr3, cr4, efer, cs.selector(), cs.base(), cs.l(), ss.selector(),
                gdt.base(), gdt.limit(), idt.base(), idt.limit());
    }
}
