package dev.panvm.vmm.sandbox;

import dev.panvm.vmm.sandbox.SeccompFilter.Insn;
import dev.panvm.vmm.sandbox.SeccompPolicy.Action;
import dev.panvm.vmm.sandbox.SeccompPolicy.Condition;
import dev.panvm.vmm.sandbox.SeccompPolicy.Rule;
import dev.panvm.vmm.sandbox.SeccompPolicy.Syscall;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The compiled program decides every call as the policy says, checked by running it. */
class SeccompFilterTest {
    private static final int X86_64 = SeccompFilter.AUDIT_ARCH_X86_64;
    private static final int EPERM = SeccompFilter.RET_ERRNO | 1;
    private static final int ALLOW = SeccompFilter.RET_ALLOW;

    private static final SeccompPolicy PANVM = Sandbox.panvmPolicy();
    private static final List<Insn> PROGRAM = SeccompFilter.compile(PANVM);

    private static int verdict(int nr, long... args) {
        return BpfInterpreter.run(PROGRAM, nr, X86_64, args);
    }

    private static int nr(String name) {
        return PANVM.syscall(name).orElseThrow().nr();
    }

    @Test
    void panvmsProgramPassesTheKernelsLoadChecksAndStaysSmall() {
        BpfInterpreter.check(PROGRAM);
        // A binary search: the longest path is a few dozen instructions, not one per listed call.
        assertTrue(PROGRAM.size() < 400, "program of " + PROGRAM.size());
    }

    @Test
    void everyUnconditionalCallIsAllowedAndEveryOtherNumberDenied() {
        for (int n = 0; n < 1024; n++) {
            Optional<Syscall> listed = listed(n);
            int v = verdict(n);
            if (listed.isEmpty()) {
                assertEquals(EPERM, v, "unlisted call " + n);
            } else if (listed.get().rules().getFirst().condition().isEmpty()) {
                assertEquals(SeccompFilter.ret(listed.get().rules().getFirst().action()), v, listed.get().name());
            }
        }
    }

    @Test
    void filesSocketsAndProcessesAreDenied() {
        for (int n : new int[] {2 /* open */, 257 /* openat */, 437 /* openat2 */, 41 /* socket */, 42 /* connect */,
                57 /* fork */, 58 /* vfork */, 59 /* execve */, 322 /* execveat */, 87 /* unlink */, 263 /* unlinkat */,
                101 /* ptrace */, 165 /* mount */, 62 /* kill */, 4 /* stat */, 332 /* statx */}) {
            assertEquals(EPERM, verdict(n), "call " + n);
        }
    }

    @Test
    void onlyKvmIoctlsAndFionreadPass() {
        int ioctl = nr("ioctl");
        assertEquals(ALLOW, verdict(ioctl, 5, 0xae80));       // KVM_RUN
        assertEquals(ALLOW, verdict(ioctl, 5, 0x4040ae77));   // KVM_IRQFD-style (_IOW(KVMIO, ...))
        assertEquals(ALLOW, verdict(ioctl, 0, 0x541b));       // FIONREAD
        assertEquals(EPERM, verdict(ioctl, 0, 0x5402));       // TCSETS
        assertEquals(EPERM, verdict(ioctl, 3, 0x400454ca));   // TUNSETIFF: only before the sandbox
        assertEquals(EPERM, verdict(ioctl, 3, 0xaf00));       // another type's number 0
    }

    @Test
    void cloneMakesThreadsNotProcesses() {
        int clone = nr("clone");
        int thread = 0x3d0f00; // glibc's pthread_create: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|...
        assertEquals(ALLOW, verdict(clone, thread));
        assertEquals(EPERM, verdict(clone, 17));              // fork(): SIGCHLD only
        assertEquals(EPERM, verdict(clone, 0x4111));          // posix_spawn: CLONE_VM|CLONE_VFORK|SIGCHLD
        assertEquals(SeccompFilter.RET_ERRNO | 38, verdict(nr("clone3"), 0, 88)); // ENOSYS: glibc falls back to clone
    }

    @Test
    void prctlOnlyNamesThreads() {
        assertEquals(ALLOW, verdict(nr("prctl"), 15));        // PR_SET_NAME
        assertEquals(EPERM, verdict(nr("prctl"), 38));        // PR_SET_NO_NEW_PRIVS: no
        assertEquals(EPERM, verdict(nr("prctl"), 22));        // PR_SET_SECCOMP
    }

    @Test
    void anotherArchitectureIsKilledAndX32Denied() {
        assertEquals(SeccompFilter.RET_KILL_PROCESS, BpfInterpreter.run(PROGRAM, 0, 0x40000003)); // i386
        assertEquals(EPERM, verdict(SeccompFilter.X32_SYSCALL_BIT | 0));                        // x32 read
        assertEquals(EPERM, verdict(-1));
    }

    /** Random policies of every size against a direct reading of their rules. */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4})
    void randomPoliciesCompileToTheirMeaning(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int round = 0; round < 15; round++) {
            SeccompPolicy policy = randomPolicy(rnd, rnd.nextInt(0, 300));
            List<Insn> program = SeccompFilter.compile(policy);
            BpfInterpreter.check(program);
            for (int i = 0; i < 300; i++) {
                int n = rnd.nextInt(4) == 0 ? rnd.nextInt() : rnd.nextInt(0, 520);
                long[] args = new long[6];
                for (int a = 0; a < 6; a++) {
                    args[a] = rnd.nextInt(3) == 0 ? rnd.nextLong() : rnd.nextInt(0, 4);
                }
                assertEquals(meaning(policy, n, args), BpfInterpreter.run(program, n, X86_64, args),
                        "call " + n + " under policy " + policy);
            }
        }
    }

    private static SeccompPolicy randomPolicy(SplittableRandom rnd, int calls) {
        TreeMap<Integer, Syscall> byNr = new TreeMap<>();
        while (byNr.size() < calls) {
            int n = rnd.nextInt(0, 512);
            List<Rule> rules = new ArrayList<>();
            int conditional = rnd.nextInt(0, 4);
            for (int r = 0; r < conditional; r++) {
                int mask = rnd.nextBoolean() ? -1 : rnd.nextInt(1, 8);
                rules.add(new Rule(Optional.of(new Condition(rnd.nextInt(6), mask, rnd.nextInt(0, 4) & mask)), action(rnd)));
            }
            if (conditional == 0 || rnd.nextBoolean()) {
                rules.add(new Rule(Optional.empty(), action(rnd)));
            }
            byNr.put(n, new Syscall("call" + n, n, rules));
        }
        return new SeccompPolicy(action(rnd), new ArrayList<>(byNr.values()));
    }

    private static Action action(SplittableRandom rnd) {
        return rnd.nextBoolean() ? new Action.Allow() : new Action.Errno("E", rnd.nextInt(1, 100));
    }

    /** What the policy says about a call, read straight from its rules. */
    private static int meaning(SeccompPolicy policy, int nr, long[] args) {
        if ((nr & SeccompFilter.X32_SYSCALL_BIT) != 0 || nr < 0) {
            return SeccompFilter.ret(policy.defaultAction());
        }
        for (Syscall s : policy.syscalls()) {
            if (s.nr() == nr) {
                for (Rule r : s.rules()) {
                    if (r.condition().isEmpty() || ((int) args[r.condition().get().arg()] & r.condition().get().mask())
                            == r.condition().get().value()) {
                        return SeccompFilter.ret(r.action());
                    }
                }
            }
        }
        return SeccompFilter.ret(policy.defaultAction());
    }

    private static Optional<Syscall> listed(int n) {
        return PANVM.syscalls().stream().filter(s -> s.nr() == n).findFirst();
    }
}
