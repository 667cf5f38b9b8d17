package dev.panvm.bindgen;

import java.util.List;
import java.util.stream.Collectors;

/** The C types that a member declaration of the KVM headers can have, as parsed (before layout). */
sealed interface CType {

    enum Kind {
        STRUCT, UNION;

        String keyword() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** An integer type; {@code spelling} is its canonical C name, e.g. {@code unsigned long}. */
    record Scalar(String spelling, int size, boolean signed) implements CType {}

    /** A {@code struct}/{@code union} body. {@code tag} is null for an anonymous one. */
    record Aggregate(Kind kind, String tag, List<Field> fields, List<String> attributes) implements CType {}

    /** A reference to a tagged {@code struct}/{@code union} defined elsewhere ({@code struct kvm_regs}). */
    record TagRef(Kind kind, String tag) implements CType {}

    /** {@code element[length]}; {@code length} is null for a flexible array member {@code element[]}. */
    record Array(CType element, Expr length) implements CType {}

    /** A bitfield {@code base name : width}. Parsed so that using one fails with a clear message. */
    record Bitfield(CType base, Expr width) implements CType {}

    /** A pointer, a function, {@code void}, floating point: parsed, never laid out. */
    record Unsupported(String description) implements CType {}

    /** One member of an aggregate; {@code name} is null for an anonymous struct/union member. */
    record Field(String name, CType type, List<String> attributes) {}

    /** A C-like spelling for messages and comments. */
    static String describe(CType type) {
        return switch (type) {
            case Scalar s -> s.spelling();
            case Aggregate a -> a.kind().keyword() + (a.tag() == null ? " <anonymous>" : " " + a.tag())
                    + " { " + a.fields().stream().map(f -> describe(f.type()) + " " + f.name())
                    .collect(Collectors.joining("; ")) + " }";
            case TagRef r -> r.kind().keyword() + " " + r.tag();
            case Array a -> describe(a.element()) + "[" + (a.length() == null ? "" : Expr.describe(a.length())) + "]";
            case Bitfield b -> describe(b.base()) + " : " + Expr.describe(b.width());
            case Unsupported u -> u.description();
        };
    }
}
