package dev.panvm.vmm.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A seccomp allow-list in panvm's policy format: which system calls a sandboxed process may make,
 * and what every other call gets. One rule per line, {@code #} starts a comment:
 *
 * <pre>
 * default errno EPERM                       what any call not listed gets
 * read     0  allow                         the call is allowed
 * clone3 435  errno ENOSYS                  the call fails with this errno
 * ioctl   16  allow if arg1 &amp; 0xff00 == 0xae00   allowed when (argument &amp; mask) == value
 * </pre>
 *
 * Several lines for one call are alternatives, tried in order; a call none of whose conditions
 * holds gets the default. A condition compares the low 32 bits of one argument (0 to 5): that
 * is all the kernel reads of the arguments such rules inspect (ioctl's {@code cmd}, clone's flags,
 * prctl's option are {@code int}s or truncated to their low half), so the high half cannot be used
 * to slip past a rule. Numbers are the x86_64 system call numbers ({@code asm/unistd_64.h}).
 */
public record SeccompPolicy(Action defaultAction, List<Syscall> syscalls) {

    /** What the filter returns for a call: allow it, or fail it with an errno. */
    public sealed interface Action {
        /** {@code SECCOMP_RET_ALLOW}. */
        record Allow() implements Action {}

        /** {@code SECCOMP_RET_ERRNO}: the call returns -1 with this errno and does nothing. */
        record Errno(String name, int errno) implements Action {}
    }

    /** One argument test: {@code (arg & mask) == value}, on the argument's low 32 bits. */
    public record Condition(int arg, int mask, int value) {}

    /** One line: an action, taken when the condition (if any) holds. */
    public record Rule(Optional<Condition> condition, Action action) {}

    /** A system call and its rules, in the file's order. */
    public record Syscall(String name, int nr, List<Rule> rules) {}

    /** A line the policy parser rejects, with its line number. */
    public static final class PolicyException extends IllegalArgumentException {
        PolicyException(String source, int line, String problem) {
            super(source + ":" + line + ": " + problem);
        }
    }

    /** The errno names a policy may use (asm-generic/errno-base.h, errno.h). */
    private static final Map<String, Integer> ERRNOS = Map.of(
            "EPERM", 1, "EACCES", 13, "ENOSYS", 38, "EAFNOSUPPORT", 97);

    public SeccompPolicy {
        syscalls = List.copyOf(syscalls);
    }

    /** The system call named {@code name}, if the policy lists it. */
    public Optional<Syscall> syscall(String name) {
        return syscalls.stream().filter(s -> s.name().equals(name)).findFirst();
    }

    /** Reads a policy from a class-path resource. */
    public static SeccompPolicy fromResource(Class<?> anchor, String name) {
        try (InputStream in = anchor.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("seccomp policy " + name + " is missing from the class path");
            }
            return parse(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses {@code text}; {@code source} names it in error messages. */
    public static SeccompPolicy parse(String source, String text) {
        Action defaultAction = null;
        Map<String, Syscall> byName = new LinkedHashMap<>();
        Map<Integer, String> byNr = new LinkedHashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int lineNo = i + 1;
            String line = lines[i];
            int hash = line.indexOf('#');
            String[] words = (hash >= 0 ? line.substring(0, hash) : line).trim().split("\\s+");
            if (words.length == 1 && words[0].isEmpty()) {
                continue;
            }
            Cursor c = new Cursor(source, lineNo, words);
            if (words[0].equals("default")) {
                if (defaultAction != null) {
                    throw c.error("a second 'default' line");
                }
                c.next();
                defaultAction = action(c);
                c.end();
                continue;
            }
            String name = c.next();
            if (!name.matches("[a-z_][a-z0-9_]*")) {
                throw c.error("'" + name + "' is not a system call name");
            }
            int nr = c.number("system call number");
            Rule rule = new Rule(Optional.empty(), action(c));
            if (c.hasNext()) {
                c.expect("if");
                rule = new Rule(Optional.of(condition(c)), rule.action());
            }
            c.end();
            String other = byNr.putIfAbsent(nr, name);
            if (other != null && !other.equals(name)) {
                throw c.error("number " + nr + " is already " + other);
            }
            Syscall previous = byName.get(name);
            if (previous != null && previous.nr() != nr) {
                throw c.error(name + " was numbered " + previous.nr() + " before");
            }
            if (previous != null && previous.rules().getLast().condition().isEmpty()) {
                throw c.error(name + " already has a rule without a condition, so this one is never used");
            }
            List<Rule> rules = new ArrayList<>(previous == null ? List.of() : previous.rules());
            rules.add(rule);
            byName.put(name, new Syscall(name, nr, List.copyOf(rules)));
        }
        if (defaultAction == null) {
            throw new PolicyException(source, lines.length, "no 'default' line (what calls not listed get)");
        }
        return new SeccompPolicy(defaultAction, List.copyOf(byName.values()));
    }

    private static Action action(Cursor c) {
        String word = c.next();
        return switch (word) {
            case "allow" -> new Action.Allow();
            case "errno" -> {
                String name = c.next();
                Integer errno = ERRNOS.get(name);
                if (errno == null) {
                    throw c.error("unknown errno '" + name + "' (known: " + String.join(", ", ERRNOS.keySet()) + ")");
                }
                yield new Action.Errno(name, errno);
            }
            default -> throw c.error("expected 'allow' or 'errno NAME', not '" + word + "'");
        };
    }

    private static Condition condition(Cursor c) {
        String arg = c.next();
        if (!arg.matches("arg[0-5]")) {
            throw c.error("expected arg0 to arg5, not '" + arg + "'");
        }
        int mask = -1;
        if (c.peekIs("&")) {
            c.next();
            mask = c.number("mask");
        }
        c.expect("==");
        int value = c.number("value");
        if ((value & ~mask) != 0) {
            throw c.error("value " + Integer.toHexString(value) + " has bits outside the mask, so it never matches");
        }
        return new Condition(arg.charAt(3) - '0', mask, value);
    }

    /** The words of one line, read left to right. */
    private static final class Cursor {
        private final String source;
        private final int line;
        private final String[] words;
        private int at;

        Cursor(String source, int line, String[] words) {
            this.source = source;
            this.line = line;
            this.words = words;
        }

        boolean hasNext() {
            return at < words.length;
        }

        boolean peekIs(String word) {
            return hasNext() && words[at].equals(word);
        }

        String next() {
            if (!hasNext()) {
                throw error("line ends too early");
            }
            return words[at++];
        }

        void expect(String word) {
            String got = next();
            if (!got.equals(word)) {
                throw error("expected '" + word + "', not '" + got + "'");
            }
        }

        /** A decimal or 0x-hexadecimal number that fits in 32 bits (unsigned). */
        int number(String what) {
            String w = next();
            OptionalInt v = parseU32(w);
            if (v.isEmpty()) {
                throw error(what + " '" + w + "' is not a 32-bit number");
            }
            return v.getAsInt();
        }

        void end() {
            if (hasNext()) {
                throw error("unexpected '" + words[at] + "' at the end of the line");
            }
        }

        PolicyException error(String problem) {
            return new PolicyException(source, line, problem);
        }
    }

    private static OptionalInt parseU32(String w) {
        try {
            long v = w.startsWith("0x") ? Long.parseLong(w.substring(2), 16) : Long.parseLong(w);
            return v < 0 || v > 0xffff_ffffL ? OptionalInt.empty() : OptionalInt.of((int) v);
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }
}
