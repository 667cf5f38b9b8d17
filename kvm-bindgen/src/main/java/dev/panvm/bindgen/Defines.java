package dev.panvm.bindgen;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code #define}s of {@code gcc -E -dM} and the enumerators of the headers: evaluates integer
 * constants and the {@code _IO/_IOR/_IOW/_IOWR} ioctl numbers, with sizes from the layout engine.
 */
final class Defines {
    private static final Pattern DEFINE = Pattern.compile("#define\\s+(\\w+)(\\([^)]*\\))?\\s*(.*)");

    /** An object-like or function-like ({@code parameters != null}) macro. */
    record Macro(String name, String parameters, String body) {
        String source() {
            return "#define " + name + (parameters == null ? "" : parameters) + " " + body;
        }
    }

    /** An evaluated ioctl: its number, direction, argument type and size. */
    record Ioctl(String name, long number, String macro, String argument, long size) {}

    private final Map<String, Macro> macros = new LinkedHashMap<>();
    private final Parser unit;
    private final LayoutEngine layouts;
    private final ConstEval eval;
    private final Map<String, ConstEval.CValue> values = new HashMap<>();
    private final Set<String> evaluating = new HashSet<>();

    Defines(String dumpedMacros, Parser unit) {
        for (String line : dumpedMacros.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            Matcher m = DEFINE.matcher(line.strip());
            if (!m.matches()) {
                throw new BindgenException("not a #define line of gcc -dM: " + line);
            }
            macros.put(m.group(1), new Macro(m.group(1), m.group(2), m.group(3).strip()));
        }
        this.unit = unit;
        this.layouts = new LayoutEngine(unit, this::value);
        this.eval = new ConstEval(layouts::sizeOf, this::value);
    }

    LayoutEngine layouts() {
        return layouts;
    }

    /** All macro names, in gcc's order. */
    List<String> names() {
        return List.copyOf(macros.keySet());
    }

    Macro macro(String name) {
        return macros.get(name);
    }

    boolean isEnumerator(String name) {
        return unit.enumerators().containsKey(name) && !macros.containsKey(name);
    }

    /** Enumerator names, in declaration order. */
    List<String> enumerators() {
        return List.copyOf(unit.enumerators().keySet());
    }

    /** The value of an object-like macro or an enumerator. */
    ConstEval.CValue value(String name) {
        ConstEval.CValue done = values.get(name);
        if (done != null) {
            return done;
        }
        if (!evaluating.add(name)) {
            throw new BindgenException(name + " is defined in terms of itself");
        }
        ConstEval.CValue v;
        try {
            Macro m = macros.get(name);
            if (m != null) {
                if (m.parameters() != null) {
                    throw new BindgenException(name + " is a function-like macro");
                }
                v = eval.eval(unit.expression(Tokenizer.tokenize(m.body())));
            } else if (unit.enumerators().containsKey(name)) {
                // an enumeration constant has type int (C11 6.7.2.2)
                ConstEval.CValue raw = eval.eval(unit.enumerators().get(name));
                if (raw.value() != (int) raw.value()) {
                    throw new BindgenException("enumerator " + name + " = " + raw.value() + " does not fit in int");
                }
                v = ConstEval.CValue.ofInt(raw.value());
            } else {
                throw new BindgenException("unknown identifier " + name + unit.brokenDeclarationsNote());
            }
        } catch (BindgenException e) {
            throw e.getMessage().startsWith("cannot evaluate " + name + ":") ? e
                    : new BindgenException("cannot evaluate " + name + ": " + e.getMessage(), e);
        } finally {
            evaluating.remove(name);
        }
        values.put(name, v);
        return v;
    }

    /**
     * Evaluates {@code name}, which must expand to {@code _IO(type, nr)} or
     * {@code _IOR/_IOW/_IOWR(type, nr, argtype)} (possibly through other object-like macros),
     * with the asm-generic encoding {@code dir << 30 | size << 16 | type << 8 | nr}; the shifts
     * and direction values are read from the header's {@code _IOC_*} macros.
     */
    Ioctl ioctl(String name) {
        Macro m = macros.get(name);
        if (m == null) {
            throw new BindgenException("ioctl " + name + " is not defined by the headers");
        }
        if (m.parameters() != null) {
            throw new BindgenException("ioctl " + name + " is a function-like macro");
        }
        try {
            Expr e = unit.expression(Tokenizer.tokenize(m.body()));
            while (e instanceof Expr.Ident alias && macros.containsKey(alias.name())) {
                e = unit.expression(Tokenizer.tokenize(macros.get(alias.name()).body()));
            }
            if (!(e instanceof Expr.Call call)) {
                throw new BindgenException("expected _IO/_IOR/_IOW/_IOWR(...), found " + m.body());
            }
            String dir = switch (call.name()) {
                case "_IO" -> "_IOC_NONE";
                case "_IOR" -> "_IOC_READ";
                case "_IOW" -> "_IOC_WRITE";
                case "_IOWR" -> "_IOC_READ|_IOC_WRITE";
                default -> throw new BindgenException("unsupported ioctl macro " + call.name());
            };
            int arity = call.name().equals("_IO") ? 2 : 3;
            if (call.arguments().size() != arity) {
                throw new BindgenException(call.name() + " takes " + arity + " arguments: " + m.body());
            }
            long direction = 0;
            for (String d : dir.split("\\|")) {
                direction |= value(d).value();
            }
            long type = eval.eval(unit.expression(call.arguments().get(0))).value();
            long nr = eval.eval(unit.expression(call.arguments().get(1))).value();
            String argument = arity == 2 ? null : join(call.arguments().get(2));
            long size = arity == 2 ? 0 : layouts.sizeOf(unit.typeName(call.arguments().get(2)));
            check("type", type, "_IOC_TYPEBITS");
            check("nr", nr, "_IOC_NRBITS");
            check("size", size, "_IOC_SIZEBITS");
            check("direction", direction, "_IOC_DIRBITS");
            long number = direction << value("_IOC_DIRSHIFT").value()
                    | size << value("_IOC_SIZESHIFT").value()
                    | type << value("_IOC_TYPESHIFT").value()
                    | nr << value("_IOC_NRSHIFT").value();
            return new Ioctl(name, number, m.body(), argument, size);
        } catch (BindgenException e) {
            throw new BindgenException("cannot evaluate ioctl " + name + " (" + m.body() + "): " + e.getMessage(), e);
        }
    }

    private void check(String what, long v, String bitsMacro) {
        long bits = value(bitsMacro).value();
        if (v < 0 || v >= 1L << bits) {
            throw new BindgenException(what + " " + v + " does not fit in " + bitsMacro + " = " + bits + " bits");
        }
    }

    static String join(List<Token> tokens) {
        List<String> parts = new ArrayList<>();
        tokens.forEach(t -> parts.add(t.text()));
        return String.join(" ", parts);
    }
}
