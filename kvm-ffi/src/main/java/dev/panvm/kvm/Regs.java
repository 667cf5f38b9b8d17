package dev.panvm.kvm;

import java.lang.foreign.MemorySegment;

import static dev.panvm.kvm.api.KvmStructs.KVM_REGS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The general-purpose registers of a vCPU ({@code struct kvm_regs}). */
public record Regs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                   long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                   long rip, long rflags) {

    /** RFLAGS bit 1 is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    private static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    /** All registers zero except the reserved RFLAGS bit: the state a boot path starts from. */
    public static Regs initial(long rip, long rsp) {
        return new Regs(0, 0, 0, 0, 0, 0, rsp, 0, 0, 0, 0, 0, 0, 0, 0, 0, rip, RFLAGS_RESERVED);
    }

    public Regs withRbx(long v) {
        return new Regs(rax, v, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRsi(long v) {
        return new Regs(rax, rbx, rcx, rdx, v, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRdi(long v) {
        return new Regs(rax, rbx, rcx, rdx, rsi, v, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    long[] toArray() {
        return new long[] {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags};
    }

    static Regs read(MemorySegment s) {
        long[] v = new long[NAMES.length];
        for (int i = 0; i < NAMES.length; i++) {
            v[i] = s.get(JAVA_LONG, Layouts.offsetOf(KVM_REGS, NAMES[i]));
        }
        return new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                v[12], v[13], v[14], v[15], v[16], v[17]);
    }

    void write(MemorySegment s) {
        long[] v = toArray();
        for (int i = 0; i < NAMES.length; i++) {
            s.set(JAVA_LONG, Layouts.offsetOf(KVM_REGS, NAMES[i]), v[i]);
        }
    }

    /** Registers as a crash report prints them, four to a line. */
    @Override
    public String toString() {
        long[] v = toArray();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < NAMES.length; i++) {
            b.append(String.format("%-6s=%016x", NAMES[i], v[i]));
            b.append(i % 4 == 3 || i == NAMES.length - 1 ? "\n" : "  ");
        }
        return b.toString();
    }
}
