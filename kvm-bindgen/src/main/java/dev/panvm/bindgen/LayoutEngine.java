package dev.panvm.bindgen;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Lays out parsed C types by the x86_64 SysV ABI: every member at the next multiple of its
 * alignment, an aggregate aligned to its most aligned member and padded at the tail to a multiple
 * of that, a union as large as its largest member rounded up likewise. GNU C: an empty struct has
 * size 0; a flexible or zero-length array adds alignment but no size.
 */
final class LayoutEngine {
    /** Prefix of the synthetic names of anonymous struct/union members. */
    static final String ANON = "$anon";

    private final Parser unit;
    private final ConstEval eval;
    private final Map<String, Laid.Aggregate> named = new HashMap<>();
    private final Set<String> inProgress = new HashSet<>();

    LayoutEngine(Parser unit, Function<String, ConstEval.CValue> identifiers) {
        this.unit = unit;
        this.eval = new ConstEval(this::sizeOf, identifiers);
    }

    /** The layout of a named struct, e.g. {@code struct("kvm_run")}. */
    Laid.Aggregate struct(String tag) {
        return tagged(CType.Kind.STRUCT, tag);
    }

    long sizeOf(CType type) {
        return layout(type, CType.describe(type)).size();
    }

    private Laid.Aggregate tagged(CType.Kind kind, String tag) {
        String key = kind.keyword() + " " + tag;
        Laid.Aggregate done = named.get(key);
        if (done != null) {
            return done;
        }
        if (!inProgress.add(key)) {
            throw new BindgenException(key + " contains itself");
        }
        try {
            Laid.Aggregate laid = aggregate(unit.aggregate(kind, tag), key);
            named.put(key, laid);
            return laid;
        } finally {
            inProgress.remove(key);
        }
    }

    /** @param where the member path, for error messages ({@code struct kvm_run.io.port}) */
    private Laid layout(CType type, String where) {
        return switch (type) {
            case CType.Scalar s -> new Laid.Scalar(s);
            case CType.TagRef r -> tagged(r.kind(), r.tag());
            case CType.Aggregate a -> aggregate(a, where);
            case CType.Array a -> array(a, where);
            case CType.Bitfield b -> throw new BindgenException(
                    where + " is a bitfield (" + CType.describe(b) + "); kvm-bindgen does not lay out bitfields");
            case CType.Unsupported u -> throw new BindgenException(
                    where + " has type " + u.description() + ", which kvm-bindgen does not lay out");
        };
    }

    private Laid.Array array(CType.Array a, String where) {
        Laid element = layout(a.element(), where + "[]");
        if (a.length() == null) {
            return new Laid.Array(element, 0, true);
        }
        ConstEval.CValue n = eval.eval(a.length());
        if (n.value() < 0) {
            throw new BindgenException(where + ": negative array length " + Expr.describe(a.length()));
        }
        return new Laid.Array(element, n.value(), false);
    }

    private Laid.Aggregate aggregate(CType.Aggregate a, String where) {
        if (!a.attributes().isEmpty()) {
            throw new BindgenException(where + " has " + a.attributes()
                    + "; kvm-bindgen lays out only naturally aligned, unpacked structs");
        }
        boolean union = a.kind() == CType.Kind.UNION;
        List<Laid.Member> members = new ArrayList<>();
        long offset = 0;
        long size = 0;
        long align = 1;
        int anonymous = 0;
        for (int i = 0; i < a.fields().size(); i++) {
            CType.Field f = a.fields().get(i);
            String name = f.name() != null ? f.name() : ANON + anonymous++;
            String path = where + "." + name;
            if (!f.attributes().isEmpty()) {
                throw new BindgenException(path + " has " + f.attributes()
                        + "; kvm-bindgen lays out only naturally aligned, unpacked members");
            }
            Laid m = layout(f.type(), path);
            if (m instanceof Laid.Array arr && arr.flexible() && (union || i != a.fields().size() - 1)) {
                throw new BindgenException(path + ": a flexible array member must be the last member of a struct");
            }
            long at = union ? 0 : alignUp(offset, m.align());
            members.add(new Laid.Member(name, f.name() == null, at, m));
            offset = at + m.size();
            size = Math.max(size, offset);
            align = Math.max(align, m.align());
        }
        return new Laid.Aggregate(a.kind(), a.tag(), List.copyOf(members), alignUp(size, align), align);
    }

    static long alignUp(long value, long align) {
        return (value + align - 1) / align * align;
    }
}
