package dev.panvm.bindgen;

import java.util.ArrayList;
import java.util.List;

/** Splits preprocessed C text ({@code gcc -E -P} output, or a {@code #define} body) into tokens. */
final class Tokenizer {
    /** Multi-character punctuators, longest first. */
    private static final List<String> PUNCTUATORS = List.of(
            "...", "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "++", "--",
            "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##");
    private static final String SINGLE = "{}[]();,:?.*&|^~!+-/%<>=#";

    private Tokenizer() {}

    static List<Token> tokenize(String text) {
        List<Token> out = new ArrayList<>();
        int line = 1;
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (c == '\n') {
                line++;
                i++;
            } else if (Character.isWhitespace(c)) {
                i++;
            } else if (text.startsWith("/*", i)) {
                int end = text.indexOf("*/", i + 2);
                if (end < 0) {
                    throw new BindgenException("line " + line + ": unterminated comment");
                }
                line += (int) text.substring(i, end).chars().filter(ch -> ch == '\n').count();
                i = end + 2;
            } else if (text.startsWith("//", i)) {
                while (i < n && text.charAt(i) != '\n') {
                    i++;
                }
            } else if (Character.isLetter(c) || c == '_') {
                int start = i;
                while (i < n && (Character.isLetterOrDigit(text.charAt(i)) || text.charAt(i) == '_')) {
                    i++;
                }
                out.add(new Token(Token.Kind.IDENT, text.substring(start, i), line));
            } else if (Character.isDigit(c)) {
                // A preprocessing number: digits, letters (hex digits, suffixes), dots.
                int start = i;
                while (i < n && (Character.isLetterOrDigit(text.charAt(i)) || text.charAt(i) == '.'
                        || text.charAt(i) == '_')) {
                    i++;
                }
                out.add(new Token(Token.Kind.NUMBER, text.substring(start, i), line));
            } else if (c == '"' || c == '\'') {
                int start = i++;
                while (i < n && text.charAt(i) != c) {
                    if (text.charAt(i) == '\\') {
                        i++;
                    }
                    if (i < n && text.charAt(i) == '\n') {
                        throw new BindgenException("line " + line + ": newline in literal");
                    }
                    i++;
                }
                if (i >= n) {
                    throw new BindgenException("line " + line + ": unterminated literal");
                }
                i++;
                out.add(new Token(Token.Kind.STRING, text.substring(start, i), line));
            } else {
                String p = punctuatorAt(text, i);
                if (p == null) {
                    throw new BindgenException("line " + line + ": unexpected character '" + c + "'");
                }
                out.add(new Token(Token.Kind.PUNCT, p, line));
                i += p.length();
            }
        }
        return out;
    }

    private static String punctuatorAt(String text, int i) {
        for (String p : PUNCTUATORS) {
            if (text.startsWith(p, i)) {
                return p;
            }
        }
        char c = text.charAt(i);
        return SINGLE.indexOf(c) >= 0 ? String.valueOf(c) : null;
    }
}
