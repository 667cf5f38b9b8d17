package dev.panvm.vmm.sandbox;

import dev.panvm.vmm.sandbox.SeccompPolicy.Action;
import dev.panvm.vmm.sandbox.SeccompPolicy.Condition;
import dev.panvm.vmm.sandbox.SeccompPolicy.Rule;
import dev.panvm.vmm.sandbox.SeccompPolicy.Syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A {@link SeccompPolicy} compiled to classic BPF, the program {@code seccomp(2)} runs on every
 * system call ({@code Documentation/userspace-api/seccomp_filter.rst}). It reads the call's
 * {@code struct seccomp_data}: a call from another architecture kills the process (its numbers
 * mean other calls), an x32 call gets the default, and the rest find their rules by a binary
 * search over the sorted call numbers, as libseccomp's and Firecracker's filters do: about
 * log2(n) comparisons per call rather than n, which matters because {@code KVM_RUN} and the
 * device threads' reads and writes pass through the filter on every exit.
 */
public final class SeccompFilter {
    private SeccompFilter() {}

    /** One {@code struct sock_filter}: opcode, jump offsets if true and if false, constant. */
    public record Insn(short code, byte jt, byte jf, int k) {
        /** {@code jt} and {@code jf} as the unsigned offsets they are. */
        public int jumpIfTrue() {
            return jt & 0xff;
        }

        public int jumpIfFalse() {
            return jf & 0xff;
        }
    }

    // Opcodes (linux/bpf_common.h).
    public static final short LD_W_ABS = 0x20;   // BPF_LD | BPF_W | BPF_ABS: A = seccomp_data[k]
    public static final short ALU_AND_K = 0x54;  // BPF_ALU | BPF_AND | BPF_K: A &= k
    public static final short JMP_JA = 0x05;     // BPF_JMP | BPF_JA: pc += k
    public static final short JMP_JEQ_K = 0x15;  // BPF_JMP | BPF_JEQ | BPF_K
    public static final short JMP_JGE_K = 0x35;  // BPF_JMP | BPF_JGE | BPF_K
    public static final short RET_K = 0x06;      // BPF_RET | BPF_K: return k

    // struct seccomp_data offsets (linux/seccomp.h).
    public static final int OFFSET_NR = 0;
    public static final int OFFSET_ARCH = 4;
    public static final int OFFSET_ARGS = 16;

    // Return values (linux/seccomp.h).
    public static final int RET_KILL_PROCESS = 0x8000_0000;
    public static final int RET_ERRNO = 0x0005_0000;
    public static final int RET_ALLOW = 0x7fff_0000;

    /** AUDIT_ARCH_X86_64 (linux/audit.h): EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
    public static final int AUDIT_ARCH_X86_64 = 0xc000_003e;
    /** The x32 ABI's calls share x86_64's architecture value and carry this bit in their number. */
    public static final int X32_SYSCALL_BIT = 0x4000_0000;
    /** BPF_MAXINSNS: the kernel refuses longer programs. */
    public static final int MAX_INSNS = 4096;

    /** The program for {@code policy}. */
    public static List<Insn> compile(SeccompPolicy policy) {
        int deny = ret(policy.defaultAction());
        List<Insn> out = new ArrayList<>();
        out.add(insn(LD_W_ABS, 0, 0, OFFSET_ARCH));
        out.add(insn(JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64));
        out.add(insn(RET_K, 0, 0, RET_KILL_PROCESS));
        out.add(insn(LD_W_ABS, 0, 0, OFFSET_NR));
        out.add(insn(JMP_JGE_K, 0, 1, X32_SYSCALL_BIT));
        out.add(insn(RET_K, 0, 0, deny));
        List<Syscall> sorted = policy.syscalls().stream().sorted(Comparator.comparingInt(Syscall::nr)).toList();
        if (sorted.isEmpty()) {
            out.add(insn(RET_K, 0, 0, deny));
        } else {
            out.addAll(search(sorted, deny));
        }
        if (out.size() > MAX_INSNS) {
            throw new IllegalArgumentException("seccomp program of " + out.size() + " instructions exceeds the kernel's "
                    + MAX_INSNS);
        }
        return List.copyOf(out);
    }

    /**
     * The search over {@code calls} (sorted, non-empty) with A holding the call number: a lone call
     * is a leaf (its rules, or the default); otherwise calls at or above the middle one go right.
     */
    private static List<Insn> search(List<Syscall> calls, int deny) {
        if (calls.size() == 1) {
            Syscall s = calls.getFirst();
            List<Insn> body = rules(s.rules());
            List<Insn> leaf = new ArrayList<>();
            leaf.add(jump(JMP_JEQ_K, 0, body.size(), s.nr()));
            leaf.addAll(body);
            leaf.add(insn(RET_K, 0, 0, deny));
            return leaf;
        }
        int mid = calls.size() / 2;
        List<Insn> right = search(calls.subList(mid, calls.size()), deny);
        List<Insn> left = search(calls.subList(0, mid), deny);
        List<Insn> node = new ArrayList<>();
        // A >= middle: skip the jump over the right half. Offsets of jt/jf are 8 bits; ja's are 32.
        node.add(insn(JMP_JGE_K, 1, 0, calls.get(mid).nr()));
        node.add(insn(JMP_JA, 0, 0, right.size()));
        node.addAll(right);
        node.addAll(left);
        return node;
    }

    /** A call's rules in order; a condition that fails falls through to the next rule. */
    private static List<Insn> rules(List<Rule> rules) {
        List<Insn> out = new ArrayList<>();
        for (Rule r : rules) {
            if (r.condition().isPresent()) {
                Condition c = r.condition().get();
                // Little-endian: an argument's low 32 bits are its first word.
                out.add(insn(LD_W_ABS, 0, 0, OFFSET_ARGS + 8 * c.arg()));
                if (c.mask() != -1) {
                    out.add(insn(ALU_AND_K, 0, 0, c.mask()));
                }
                out.add(insn(JMP_JEQ_K, 0, 1, c.value()));
            }
            out.add(insn(RET_K, 0, 0, ret(r.action())));
        }
        return out;
    }

    /** The filter's return value for an action. */
    public static int ret(Action action) {
        return switch (action) {
            case Action.Allow a -> RET_ALLOW;
            case Action.Errno e -> RET_ERRNO | (e.errno() & 0xffff);
        };
    }

    private static Insn insn(short code, int jt, int jf, int k) {
        return new Insn(code, (byte) jt, (byte) jf, k);
    }

    private static Insn jump(short code, int jt, int jf, int k) {
        if (jt > 255 || jf > 255) {
            throw new IllegalArgumentException("a call's rules are too long for a conditional jump over them");
        }
        return insn(code, jt, jf, k);
    }

    /**
     * The program as a {@code struct sock_fprog} in {@code arena}: {@code unsigned short len},
     * padding, then a pointer to the {@code struct sock_filter} array (8 bytes each: u16 code,
     * u8 jt, u8 jf, u32 k), as {@code seccomp(SECCOMP_SET_MODE_FILTER)} takes it.
     */
    public static MemorySegment toSockFprog(List<Insn> program, Arena arena) {
        MemorySegment filters = arena.allocate(8L * program.size(), 8);
        for (int i = 0; i < program.size(); i++) {
            Insn in = program.get(i);
            long at = 8L * i;
            filters.set(JAVA_SHORT, at, in.code());
            filters.set(JAVA_BYTE, at + 2, in.jt());
            filters.set(JAVA_BYTE, at + 3, in.jf());
            filters.set(JAVA_INT, at + 4, in.k());
        }
        MemorySegment fprog = arena.allocate(16, 8);
        fprog.set(JAVA_SHORT, 0, (short) program.size());
        fprog.set(JAVA_LONG, 8, filters.address());
        return fprog;
    }
}
