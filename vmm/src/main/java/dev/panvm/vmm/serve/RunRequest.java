package dev.panvm.vmm.serve;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a client asks a warm worker of {@code panvm serve} for: run panvm with these arguments
 * in this directory. On the wire (vmm/SERVE.md), NUL-terminated UTF-8 fields: the magic
 * {@value #MAGIC}, the client's working directory, the argument count in decimal, then the
 * arguments; the client's standard input, output and error travel beside the first bytes as
 * SCM_RIGHTS descriptors, so the worker writes to the very files, pipes or terminal the client
 * has, at the client's offsets.
 */
public record RunRequest(String cwd, List<String> args) {
    public static final String MAGIC = "PANVM-RUN 1";
    /** A request longer than this is refused: far beyond any command line panvm takes. */
    public static final int MAX_BYTES = 1 << 20;
    private static final int MAX_ARGS = 4096;

    public RunRequest {
        args = List.copyOf(args);
    }

    /**
     * The request in {@code bytes[0, length)} if it is complete; empty if more bytes are needed.
     *
     * @throws IllegalArgumentException if the bytes cannot be the start of a request
     */
    public static Optional<RunRequest> decode(byte[] bytes, int length) {
        List<String> fields = new ArrayList<>();
        int start = 0;
        int expected = 3;
        for (int i = 0; i < length && fields.size() < expected; i++) {
            if (bytes[i] != 0) {
                continue;
            }
            String field = new String(bytes, start, i - start, StandardCharsets.UTF_8);
            start = i + 1;
            fields.add(field);
            if (fields.size() == 1 && !field.equals(MAGIC)) {
                throw new IllegalArgumentException("not a panvm run request (magic '" + field + "')");
            }
            if (fields.size() == 3) {
                expected = 3 + argCount(field);
            }
        }
        if (fields.size() < expected) {
            if (length >= MAX_BYTES) {
                throw new IllegalArgumentException("request longer than " + MAX_BYTES + " bytes");
            }
            return Optional.empty();
        }
        if (start != length) {
            throw new IllegalArgumentException("bytes after the request's last argument");
        }
        if (!fields.get(1).startsWith("/")) {
            throw new IllegalArgumentException("working directory '" + fields.get(1) + "' is not absolute");
        }
        return Optional.of(new RunRequest(fields.get(1), fields.subList(3, fields.size())));
    }

    private static int argCount(String digits) {
        try {
            int n = Integer.parseInt(digits);
            if (n >= 0 && n <= MAX_ARGS) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException("argument count '" + digits + "' is not 0 to " + MAX_ARGS);
    }
}
