package dev.panvm.kvm;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.util.OptionalLong;

/**
 * Finds members of the generated KVM layouts by their C path ({@code "io.port"}), looking through
 * the anonymous unions and structs that C reaches transparently (the generator names them
 * {@code $anonN}).
 */
public final class Layouts {
    private Layouts() {}

    /** Byte offset of a member, as C's {@code offsetof(struct x, a.b)} would give it. */
    public static long offsetOf(GroupLayout layout, String cPath) {
        return find(layout, cPath.split("\\."), 0)
                .orElseThrow(() -> new IllegalArgumentException(
                        layout.name().orElse("layout") + " has no member " + cPath));
    }

    private static OptionalLong find(GroupLayout group, String[] path, int depth) {
        long offset = 0;
        boolean union = group instanceof java.lang.foreign.UnionLayout;
        for (MemoryLayout member : group.memberLayouts()) {
            String name = member.name().orElse("");
            long memberOffset = union ? 0 : offset;
            if (name.equals(path[depth])) {
                if (depth == path.length - 1) {
                    return OptionalLong.of(memberOffset);
                }
                if (member instanceof GroupLayout inner) {
                    OptionalLong rest = find(inner, path, depth + 1);
                    if (rest.isPresent()) {
                        return OptionalLong.of(memberOffset + rest.getAsLong());
                    }
                }
            } else if (name.startsWith("$anon") && member instanceof GroupLayout anon) {
                OptionalLong inside = find(anon, path, depth);
                if (inside.isPresent()) {
                    return OptionalLong.of(memberOffset + inside.getAsLong());
                }
            }
            if (!union) {
                offset += member.byteSize();
            }
        }
        return OptionalLong.empty();
    }
}
