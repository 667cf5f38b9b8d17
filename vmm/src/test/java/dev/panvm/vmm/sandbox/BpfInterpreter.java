package dev.panvm.vmm.sandbox;

import dev.panvm.vmm.sandbox.SeccompFilter.Insn;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs a seccomp program on one {@code struct seccomp_data}, as the kernel would: the opcodes
 * {@link SeccompFilter} emits, forward jumps only, and a program that must end in a return on
 * every path. {@link #check} first applies the load-time rules of the kernel's classic-BPF
 * checker that such a program could break.
 */
final class BpfInterpreter {
    private BpfInterpreter() {}

    /** The checks {@code bpf_check_classic} and {@code seccomp_check_filter} make at load time. */
    static void check(List<Insn> program) {
        assertTrue(!program.isEmpty() && program.size() <= SeccompFilter.MAX_INSNS, "length " + program.size());
        for (int pc = 0; pc < program.size(); pc++) {
            Insn in = program.get(pc);
            switch (in.code()) {
                case SeccompFilter.LD_W_ABS -> assertTrue(in.k() >= 0 && in.k() < 64 && in.k() % 4 == 0,
                        "load of seccomp_data at " + in.k() + " (pc " + pc + ")");
                case SeccompFilter.JMP_JA -> assertTrue(pc + 1 + (long) in.k() < program.size(), "ja out of range at " + pc);
                case SeccompFilter.JMP_JEQ_K, SeccompFilter.JMP_JGE_K -> assertTrue(
                        pc + 1 + Math.max(in.jumpIfTrue(), in.jumpIfFalse()) < program.size(), "jump out of range at " + pc);
                case SeccompFilter.ALU_AND_K, SeccompFilter.RET_K -> { }
                default -> fail("opcode " + in.code() + " at " + pc);
            }
        }
        assertEquals(SeccompFilter.RET_K, program.getLast().code(), "the last instruction returns");
    }

    /** The program's verdict for a call: its number, architecture and six arguments. */
    static int run(List<Insn> program, int nr, int arch, long... args) {
        int a = 0;
        int pc = 0;
        while (true) {
            Insn in = program.get(pc);
            pc++;
            switch (in.code()) {
                case SeccompFilter.LD_W_ABS -> a = load(in.k(), nr, arch, args);
                case SeccompFilter.ALU_AND_K -> a &= in.k();
                case SeccompFilter.JMP_JA -> pc += in.k();
                case SeccompFilter.JMP_JEQ_K -> pc += a == in.k() ? in.jumpIfTrue() : in.jumpIfFalse();
                case SeccompFilter.JMP_JGE_K -> pc += Integer.compareUnsigned(a, in.k()) >= 0 ? in.jumpIfTrue() : in.jumpIfFalse();
                case SeccompFilter.RET_K -> {
                    return in.k();
                }
                default -> throw new AssertionError("opcode " + in.code());
            }
        }
    }

    private static int load(int offset, int nr, int arch, long[] args) {
        return switch (offset) {
            case SeccompFilter.OFFSET_NR -> nr;
            case SeccompFilter.OFFSET_ARCH -> arch;
            case 8, 12 -> 0; // instruction_pointer
            default -> {
                long arg = args.length > (offset - SeccompFilter.OFFSET_ARGS) / 8 ? args[(offset - SeccompFilter.OFFSET_ARGS) / 8] : 0;
                yield (offset - SeccompFilter.OFFSET_ARGS) % 8 == 0 ? (int) arg : (int) (arg >>> 32);
            }
        };
    }
}
