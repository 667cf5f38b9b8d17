package dev.panvm.bindgen;

/** One C token of preprocessed header text; {@code line} is 1-based, for error messages. */
record Token(Kind kind, String text, int line) {

    enum Kind { IDENT, NUMBER, PUNCT, STRING }

    /** True if this is the punctuator or identifier {@code s} (never a string literal). */
    boolean is(String s) {
        return kind != Kind.STRING && text.equals(s);
    }

    boolean isIdent() {
        return kind == Kind.IDENT;
    }

    @Override
    public String toString() {
        return "'" + text + "' (line " + line + ")";
    }
}
