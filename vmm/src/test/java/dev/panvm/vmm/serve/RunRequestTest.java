package dev.panvm.vmm.serve;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker's side of the wire format; panvm-client (client/, Rust) writes it, as {@link #encode} does here. */
class RunRequestTest {
    /** A request's bytes: NUL-terminated magic, directory, argument count and arguments. */
    private static byte[] encode(RunRequest r) {
        StringBuilder s = new StringBuilder(RunRequest.MAGIC).append('\0').append(r.cwd()).append('\0')
                .append(r.args().size()).append('\0');
        r.args().forEach(a -> s.append(a).append('\0'));
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Optional<RunRequest> decode(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return RunRequest.decode(b, b.length);
    }

    @Test
    void roundTripsEveryArgumentIncludingEmptyOnesAndNonAscii() {
        RunRequest r = new RunRequest("/home/ü", List.of("run", "", "--cmdline", "a b\nc", "é"));
        byte[] b = encode(r);
        assertEquals(Optional.of(r), RunRequest.decode(b, b.length));
        assertEquals(Optional.of(new RunRequest("/", List.of())), decode("PANVM-RUN 1\0/\0" + "0\0"));
    }

    @Test
    void anIncompleteRequestAsksForMoreBytes() {
        byte[] b = encode(new RunRequest("/d", List.of("run", "--help")));
        for (int n = 0; n < b.length; n++) {
            assertTrue(RunRequest.decode(b, n).isEmpty(), "prefix of " + n + " bytes");
        }
    }

    @Test
    void badRequestsAreRefusedWithTheirReason() {
        assertThrows(IllegalArgumentException.class, () -> decode("GET / HTTP/1.1\0"), "magic");
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class, () -> decode("PANVM-RUN 1\0/\0-1\0"));
        assertTrue(count.getMessage().contains("argument count '-1'"), count.getMessage());
        assertThrows(IllegalArgumentException.class, () -> decode("PANVM-RUN 1\0/\0" + "99999\0"));
        IllegalArgumentException extra = assertThrows(IllegalArgumentException.class, () -> decode("PANVM-RUN 1\0/\0" + "0\0x"));
        assertTrue(extra.getMessage().contains("after the request's last argument"), extra.getMessage());
        IllegalArgumentException relative = assertThrows(IllegalArgumentException.class, () -> decode("PANVM-RUN 1\0home\0" + "0\0"));
        assertTrue(relative.getMessage().contains("not absolute"), relative.getMessage());
        byte[] huge = new byte[RunRequest.MAX_BYTES];
        System.arraycopy("PANVM-RUN 1\0/\0" .getBytes(StandardCharsets.UTF_8), 0, huge, 0, 14);
        huge[14] = '1';
        for (int i = 15; i < huge.length; i++) {
            huge[i] = 'x';
        }
        assertThrows(IllegalArgumentException.class, () -> RunRequest.decode(huge, huge.length), "too long");
    }
}
