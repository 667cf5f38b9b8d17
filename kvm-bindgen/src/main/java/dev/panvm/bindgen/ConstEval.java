package dev.panvm.bindgen;

import java.util.Locale;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Evaluates integer constant expressions with the C rules of x86_64 ({@code int} 32 bits,
 * {@code long} 64): literal types from their suffix and magnitude, the usual arithmetic
 * conversions, wrap-around in the operation's type. So {@code (1 << 31)} is negative, as in C.
 */
final class ConstEval {

    /**
     * A value of type int, unsigned int, long or unsigned long. {@code value} is normalised:
     * sign-extended for int, zero-extended for unsigned int, the raw bits for the 64-bit types.
     */
    record CValue(long value, boolean wide, boolean unsigned) {
        static CValue ofInt(long v) {
            return new CValue(v, false, false).normalised();
        }

        CValue normalised() {
            if (wide) {
                return this;
            }
            return new CValue(unsigned ? value & 0xFFFF_FFFFL : (int) value, false, unsigned);
        }

        String cType() {
            return (unsigned ? "unsigned " : "") + (wide ? "long" : "int");
        }
    }

    private final ToLongFunction<CType> sizeOf;
    private final Function<String, CValue> identifiers;

    /** @param identifiers resolves macro and enumerator names, throwing if unknown */
    ConstEval(ToLongFunction<CType> sizeOf, Function<String, CValue> identifiers) {
        this.sizeOf = sizeOf;
        this.identifiers = identifiers;
    }

    CValue eval(Expr e) {
        return switch (e) {
            case Expr.Num n -> literal(n.literal());
            case Expr.Ident i -> identifiers.apply(i.name());
            case Expr.Unary u -> unary(u.op(), eval(u.operand()));
            case Expr.Binary b -> binary(b.op(), eval(b.left()), eval(b.right()));
            case Expr.Conditional c -> eval(c.condition()).value() != 0 ? eval(c.then()) : eval(c.otherwise());
            case Expr.SizeOf s -> new CValue(sizeOf.applyAsLong(s.type()), true, true);
            case Expr.Cast c -> cast(c.type(), eval(c.operand()));
            case Expr.Call c -> throw new BindgenException("cannot evaluate macro call " + Expr.describe(c));
        };
    }

    static CValue literal(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        int end = lower.length();
        while (end > 0 && (lower.charAt(end - 1) == 'u' || lower.charAt(end - 1) == 'l')) {
            end--;
        }
        String digits = lower.substring(0, end);
        String suffix = lower.substring(end);
        boolean u = suffix.contains("u");
        int longs = suffix.length() - (u ? 1 : 0);
        if (suffix.indexOf('u') != suffix.lastIndexOf('u') || longs > 2 || !suffix.replace("u", "").matches("|l|ll")) {
            throw new BindgenException("bad integer suffix in " + text);
        }
        boolean decimal;
        long value;
        try {
            if (digits.startsWith("0x")) {
                decimal = false;
                value = Long.parseUnsignedLong(digits.substring(2), 16);
            } else if (digits.startsWith("0") && digits.length() > 1) {
                decimal = false;
                value = Long.parseUnsignedLong(digits.substring(1), 8);
            } else {
                decimal = true;
                value = Long.parseUnsignedLong(digits, 10);
            }
        } catch (NumberFormatException ex) {
            throw new BindgenException("not an integer literal: " + text);
        }
        // C11 6.4.4.1: the first type of the list that can represent the value.
        boolean fitsInt = Long.compareUnsigned(value, Integer.MAX_VALUE) <= 0;
        boolean fitsUint = Long.compareUnsigned(value, 0xFFFF_FFFFL) <= 0;
        boolean fitsLong = value >= 0;
        if (longs == 0 && !u && fitsInt) {
            return new CValue(value, false, false);
        }
        if (longs == 0 && (u || !decimal) && fitsUint) {
            return new CValue(value, false, true);
        }
        if (!u && fitsLong) {
            return new CValue(value, true, false);
        }
        if (u || !decimal) {
            return new CValue(value, true, true);
        }
        throw new BindgenException("integer literal too large: " + text);
    }

    private static CValue unary(String op, CValue v) {
        return switch (op) {
            case "+" -> v;
            case "-" -> new CValue(-v.value(), v.wide(), v.unsigned()).normalised();
            case "~" -> new CValue(~v.value(), v.wide(), v.unsigned()).normalised();
            case "!" -> CValue.ofInt(v.value() == 0 ? 1 : 0);
            default -> throw new BindgenException("unknown unary operator " + op);
        };
    }

    private static CValue binary(String op, CValue a, CValue b) {
        switch (op) {
            case "<<", ">>" -> {
                long count = b.value();
                int width = a.wide() ? 64 : 32;
                if (count < 0 || count >= width) {
                    throw new BindgenException("shift by " + count + " of a " + a.cType() + " is undefined");
                }
                long bits = op.equals("<<") ? a.value() << count
                        : a.unsigned() ? a.value() >>> count : a.value() >> count;
                return new CValue(bits, a.wide(), a.unsigned()).normalised();
            }
            case "&&" -> {
                return CValue.ofInt(a.value() != 0 && b.value() != 0 ? 1 : 0);
            }
            case "||" -> {
                return CValue.ofInt(a.value() != 0 || b.value() != 0 ? 1 : 0);
            }
            default -> {
                // usual arithmetic conversions between int, unsigned int, long, unsigned long
                boolean wide = a.wide() || b.wide();
                boolean unsigned = wide ? (a.wide() && a.unsigned()) || (b.wide() && b.unsigned())
                        : a.unsigned() || b.unsigned();
                long x = a.value();
                long y = b.value();
                int cmp = unsigned ? Long.compareUnsigned(x, y) : Long.compare(x, y);
                long r = switch (op) {
                    case "+" -> x + y;
                    case "-" -> x - y;
                    case "*" -> x * y;
                    case "/" -> unsigned ? Long.divideUnsigned(x, nonZero(y)) : x / nonZero(y);
                    case "%" -> unsigned ? Long.remainderUnsigned(x, nonZero(y)) : x % nonZero(y);
                    case "&" -> x & y;
                    case "|" -> x | y;
                    case "^" -> x ^ y;
                    case "==" -> cmp == 0 ? 1 : 0;
                    case "!=" -> cmp != 0 ? 1 : 0;
                    case "<" -> cmp < 0 ? 1 : 0;
                    case ">" -> cmp > 0 ? 1 : 0;
                    case "<=" -> cmp <= 0 ? 1 : 0;
                    case ">=" -> cmp >= 0 ? 1 : 0;
                    default -> throw new BindgenException("unknown binary operator " + op);
                };
                if (op.length() == 2 || op.equals("<") || op.equals(">")) {
                    return CValue.ofInt(r); // comparisons have type int
                }
                return new CValue(r, wide, unsigned).normalised();
            }
        }
    }

    private static long nonZero(long y) {
        if (y == 0) {
            throw new BindgenException("division by zero in a constant expression");
        }
        return y;
    }

    private static CValue cast(CType type, CValue v) {
        if (!(type instanceof CType.Scalar s)) {
            throw new BindgenException("cast to " + CType.describe(type) + " is not supported");
        }
        return switch (s.size()) {
            case 1 -> CValue.ofInt(s.signed() ? (byte) v.value() : v.value() & 0xFF);
            case 2 -> CValue.ofInt(s.signed() ? (short) v.value() : v.value() & 0xFFFF);
            case 4 -> new CValue(v.value(), false, !s.signed()).normalised();
            default -> new CValue(v.value(), true, !s.signed());
        };
    }
}
