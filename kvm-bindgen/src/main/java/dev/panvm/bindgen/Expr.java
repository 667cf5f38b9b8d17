package dev.panvm.bindgen;

import java.util.List;
import java.util.stream.Collectors;

/** An integer constant expression: an array length, an enumerator value or a {@code #define} body. */
sealed interface Expr {

    /** An integer literal as written, suffix included ({@code 0x400}, {@code 1ULL}). */
    record Num(String literal) implements Expr {}

    /** A name: a macro or an enumerator. */
    record Ident(String name) implements Expr {}

    record Unary(String op, Expr operand) implements Expr {}

    record Binary(String op, Expr left, Expr right) implements Expr {}

    record Conditional(Expr condition, Expr then, Expr otherwise) implements Expr {}

    record SizeOf(CType type) implements Expr {}

    record Cast(CType type, Expr operand) implements Expr {}

    /** A function-like macro use, arguments kept as tokens (they may be type names, e.g. for {@code _IOR}). */
    record Call(String name, List<List<Token>> arguments) implements Expr {}

    static String describe(Expr e) {
        return switch (e) {
            case Num n -> n.literal();
            case Ident i -> i.name();
            case Unary u -> u.op() + describe(u.operand());
            case Binary b -> "(" + describe(b.left()) + " " + b.op() + " " + describe(b.right()) + ")";
            case Conditional c -> "(" + describe(c.condition()) + " ? " + describe(c.then()) + " : "
                    + describe(c.otherwise()) + ")";
            case SizeOf s -> "sizeof(" + CType.describe(s.type()) + ")";
            case Cast c -> "(" + CType.describe(c.type()) + ") " + describe(c.operand());
            case Call c -> c.name() + "(" + c.arguments().stream()
                    .map(a -> a.stream().map(Token::text).collect(Collectors.joining(" ")))
                    .collect(Collectors.joining(", ")) + ")";
        };
    }
}
