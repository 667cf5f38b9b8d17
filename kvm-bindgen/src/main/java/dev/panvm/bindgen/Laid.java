package dev.panvm.bindgen;

import java.util.List;

/** A C type with its x86_64 SysV layout computed: size, alignment and member offsets. */
sealed interface Laid {
    long size();

    long align();

    record Scalar(CType.Scalar type) implements Laid {
        @Override
        public long size() {
            return type.size();
        }

        @Override
        public long align() {
            return type.size();
        }
    }

    /** {@code flexible} for {@code x[]}; {@code x[0]} has count 0 and is not flexible. */
    record Array(Laid element, long count, boolean flexible) implements Laid {
        @Override
        public long size() {
            return element.size() * count;
        }

        @Override
        public long align() {
            return element.align();
        }
    }

    /** A struct or union; {@code tag} is null for an anonymous one. */
    record Aggregate(CType.Kind kind, String tag, List<Member> members, long size, long align) implements Laid {}

    /** {@code name} is the C name, or a synthetic {@code $anonN} when {@code anonymous}. */
    record Member(String name, boolean anonymous, long offset, Laid layout) {}
}
