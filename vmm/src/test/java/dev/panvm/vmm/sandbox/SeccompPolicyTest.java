package dev.panvm.vmm.sandbox;

import dev.panvm.vmm.sandbox.SeccompPolicy.PolicyException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SeccompPolicyTest {
    private static final Path UNISTD = Path.of("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");

    @Test
    void panvmsPolicyNamesEveryCallWithItsX8664Number() throws Exception {
        assumeTrue(Files.isReadable(UNISTD), "no kernel headers (apt-get install linux-libc-dev)");
        Map<String, Integer> numbers = new HashMap<>();
        Matcher m = Pattern.compile("#define __NR_(\\w+) (\\d+)").matcher(Files.readString(UNISTD));
        while (m.find()) {
            numbers.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        SeccompPolicy policy = Sandbox.panvmPolicy();
        assertTrue(policy.syscalls().size() > 40, "policy read: " + policy.syscalls().size() + " calls");
        for (SeccompPolicy.Syscall s : policy.syscalls()) {
            assertEquals(numbers.get(s.name()), s.nr(), s.name());
        }
    }

    @Test
    void panvmsPolicyDeniesByErrorAndListsNoFileOrProcessCalls() {
        SeccompPolicy policy = Sandbox.panvmPolicy();
        assertEquals(new SeccompPolicy.Action.Errno("EPERM", 1), policy.defaultAction());
        for (String forbidden : new String[] {"open", "openat", "openat2", "creat", "socket", "connect", "bind",
                "fork", "vfork", "execve", "execveat", "unlink", "unlinkat", "rename", "ptrace", "mount", "kill"}) {
            assertFalse(policy.syscall(forbidden).isPresent(), forbidden + " must not be listed");
        }
    }

    @Test
    void rulesForOneCallAreAlternativesInOrder() {
        SeccompPolicy p = SeccompPolicy.parse("t", """
                default errno EPERM
                ioctl 16 allow if arg1 & 0xff00 == 0xae00   # KVM
                ioctl 16 errno ENOSYS if arg1 == 0x541b
                read 0 allow
                """);
        assertEquals(2, p.syscall("ioctl").orElseThrow().rules().size());
        SeccompPolicy.Condition c = p.syscall("ioctl").orElseThrow().rules().get(1).condition().orElseThrow();
        assertEquals(new SeccompPolicy.Condition(1, -1, 0x541b), c);
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "read 0 allow|t:1: no 'default' line",
        "default errno EPERM\\nread zero allow|t:2: system call number 'zero' is not a 32-bit number",
        "default errno EPERM\\nread 0 permit|t:2: expected 'allow' or 'errno NAME', not 'permit'",
        "default errno EWHAT|t:1: unknown errno 'EWHAT'",
        "default errno EPERM\\nread 0 allow\\nwrite 0 allow|t:3: number 0 is already read",
        "default errno EPERM\\nread 0 allow\\nread 1 allow if arg0 == 1|t:3: read was numbered 0 before",
        "default errno EPERM\\nread 0 allow\\nread 0 allow if arg0 == 1|t:3: read already has a rule without a condition",
        "default errno EPERM\\nread 0 allow if arg6 == 1|t:2: expected arg0 to arg5, not 'arg6'",
        "default errno EPERM\\nread 0 allow if arg0 & 0xf == 0x10|t:2: value 10 has bits outside the mask",
        "default errno EPERM\\nread 0 allow if arg0 = 1|t:2: expected '==', not '='",
        "default errno EPERM\\nread 0 allow if arg0 == 1 extra|t:2: unexpected 'extra' at the end of the line",
        "default errno EPERM\\nread 0 allow if|t:2: line ends too early",
        "default errno EPERM\\nRead 0 allow|t:2: 'Read' is not a system call name",
        "default errno EPERM\\nread 0x1ffffffff allow|t:2: system call number '0x1ffffffff' is not a 32-bit number",
        "default errno EPERM\\ndefault allow|t:2: a second 'default' line",
    })
    void badLinesAreRefusedWithTheirLineNumber(String text, String message) {
        PolicyException e = assertThrows(PolicyException.class, () -> SeccompPolicy.parse("t", text.replace("\\n", "\n")));
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }
}
