package dev.panvm.bindgen;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Recursive-descent parser for the C declarations of the preprocessed KVM headers.
 *
 * <p>The top-level pass only records where each {@code struct}/{@code union} definition starts,
 * parses typedefs and enumerators; a struct body is parsed when it is first asked for, so
 * constructs kvm-bindgen does not understand only matter in the structs it needs. Anything it
 * cannot represent is parsed into {@link CType.Bitfield} or {@link CType.Unsupported} and rejected
 * by the layout engine with the member's name.
 */
final class Parser {

    private static final Set<String> QUALIFIERS = Set.of(
            "const", "volatile", "restrict", "__restrict", "__restrict__", "__const", "__volatile__",
            "__extension__");
    private static final Set<String> TYPE_KEYWORDS = Set.of(
            "void", "char", "short", "int", "long", "signed", "__signed__", "__signed", "unsigned",
            "_Bool", "float", "double", "struct", "union", "enum");
    private static final Map<String, Integer> BINARY_PRECEDENCE = Map.ofEntries(
            Map.entry("||", 1), Map.entry("&&", 2), Map.entry("|", 3), Map.entry("^", 4),
            Map.entry("&", 5), Map.entry("==", 6), Map.entry("!=", 6), Map.entry("<", 7),
            Map.entry(">", 7), Map.entry("<=", 7), Map.entry(">=", 7), Map.entry("<<", 8),
            Map.entry(">>", 8), Map.entry("+", 9), Map.entry("-", 9), Map.entry("*", 10),
            Map.entry("/", 10), Map.entry("%", 10));

    /** What the top-level pass found; shared with the parsers of struct bodies and macro bodies. */
    private static final class Tables {
        List<Token> unit = List.of();
        final Map<String, CType> typedefs = new HashMap<>();
        final Map<String, String> brokenTypedefs = new LinkedHashMap<>();
        final Map<String, Expr> enumerators = new LinkedHashMap<>();
        final List<String> brokenEnums = new ArrayList<>();
        /** "struct kvm_regs" -> index of the {@code struct} keyword of its definition. */
        final Map<String, Integer> definitions = new HashMap<>();
        final Map<String, CType.Aggregate> parsed = new HashMap<>();
    }

    private final List<Token> tokens;
    private final Tables tables;
    private int pos;

    private Parser(List<Token> tokens, int pos, Tables tables) {
        this.tokens = tokens;
        this.pos = pos;
        this.tables = tables;
    }

    // ---------------------------------------------------------------- public API

    /** Runs the top-level pass over {@code gcc -E -P} output. */
    static Parser parseTranslationUnit(String preprocessed) {
        Tables tables = new Tables();
        tables.unit = Tokenizer.tokenize(preprocessed);
        Parser p = new Parser(tables.unit, 0, tables);
        p.topLevel();
        return p;
    }

    /** The definition of {@code struct tag} / {@code union tag}, parsed on first use. */
    CType.Aggregate aggregate(CType.Kind kind, String tag) {
        String key = kind.keyword() + " " + tag;
        CType.Aggregate done = tables.parsed.get(key);
        if (done != null) {
            return done;
        }
        Integer start = tables.definitions.get(key);
        if (start == null) {
            throw new BindgenException("no definition of " + key + " in the headers");
        }
        try {
            new Parser(tables.unit, start, tables).aggregateSpecifier();
        } catch (BindgenException e) {
            throw new BindgenException("cannot parse " + key + ": " + e.getMessage(), e);
        }
        return tables.parsed.get(key);
    }

    /** Enumerator name -> value expression (implicit values are {@code previous + 1}). */
    Map<String, Expr> enumerators() {
        return tables.enumerators;
    }

    /** Parses a whole token list as one constant expression (a {@code #define} body). */
    Expr expression(List<Token> body) {
        Parser p = new Parser(body, 0, tables);
        Expr e = p.conditional();
        p.expectEnd();
        return e;
    }

    /** Parses a whole token list as a type name ({@code struct kvm_regs}, {@code __u64}). */
    CType typeName(List<Token> body) {
        Parser p = new Parser(body, 0, tables);
        CType t = p.typeName();
        p.expectEnd();
        return t;
    }

    /** Why names that are not known might be missing, for error messages. */
    String brokenDeclarationsNote() {
        StringBuilder sb = new StringBuilder();
        tables.brokenTypedefs.forEach((name, why) -> sb.append("\n  typedef ").append(name).append(": ").append(why));
        tables.brokenEnums.forEach(why -> sb.append("\n  enum: ").append(why));
        return sb.isEmpty() ? "" : "\n(declarations kvm-bindgen could not parse:" + sb + ")";
    }

    // ---------------------------------------------------------------- top level

    private void topLevel() {
        while (pos < tokens.size()) {
            int start = pos;
            int end = endOfDeclaration(start);
            int p = start;
            while (p < end && tokens.get(p).is("__extension__")) {
                p++;
            }
            Token first = tokens.get(p);
            if (first.is("typedef")) {
                pos = p + 1;
                try {
                    typedefDeclaration();
                } catch (BindgenException e) {
                    tables.brokenTypedefs.put(lastIdentifier(start, end), e.getMessage());
                }
            } else if (first.is("enum")) {
                pos = p;
                try {
                    specifiers(new ArrayList<>());
                } catch (BindgenException e) {
                    tables.brokenEnums.add(e.getMessage());
                }
            } else if (first.is("struct") || first.is("union")) {
                registerDefinitions(p, end);
            }
            // Anything else (function or variable declarations) defines no layout.
            pos = end + 1;
        }
    }

    /** Index of the {@code ;} (or function-body {@code }}) that ends the declaration at {@code start}. */
    private int endOfDeclaration(int start) {
        int depth = 0;
        for (int i = start; i < tokens.size(); i++) {
            Token t = tokens.get(i);
            if (t.is("(") || t.is("[") || t.is("{")) {
                depth++;
            } else if (t.is(")") || t.is("]") || t.is("}")) {
                depth--;
                if (depth == 0 && t.is("}") && isFunctionBody(start, i)) {
                    return i;
                }
            } else if (t.is(";") && depth == 0) {
                return i;
            }
        }
        throw new BindgenException("line " + tokens.get(start).line() + ": declaration does not end");
    }

    private boolean isFunctionBody(int start, int close) {
        int depth = 0;
        for (int i = close; i > start; i--) {
            Token t = tokens.get(i);
            if (t.is("}")) {
                depth++;
            } else if (t.is("{") && --depth == 0) {
                return tokens.get(i - 1).is(")");
            }
        }
        return false;
    }

    /** Records every {@code struct|union TAG {} in the declaration, nested ones included. */
    private void registerDefinitions(int from, int end) {
        for (int i = from; i + 2 <= end; i++) {
            Token t = tokens.get(i);
            if ((t.is("struct") || t.is("union")) && tokens.get(i + 1).isIdent() && tokens.get(i + 2).is("{")) {
                tables.definitions.putIfAbsent(t.text() + " " + tokens.get(i + 1).text(), i);
            }
        }
    }

    private String lastIdentifier(int start, int end) {
        for (int i = end - 1; i >= start; i--) {
            if (tokens.get(i).isIdent()) {
                return tokens.get(i).text();
            }
        }
        return "<unnamed>";
    }

    private void typedefDeclaration() {
        CType base = specifiers(new ArrayList<>());
        while (true) {
            Declarator d = declarator(base, false);
            attributes(new ArrayList<>());
            tables.typedefs.put(d.name(), d.type());
            if (!accept(",")) {
                break;
            }
        }
        expect(";");
    }

    // ---------------------------------------------------------------- declarations

    private record Declarator(String name, CType type) {}

    /** Declaration specifiers: qualifiers, integer keywords, a typedef name, or a struct/union/enum. */
    private CType specifiers(List<String> attributes) {
        Map<String, Integer> count = new HashMap<>();
        CType other = null;
        boolean any = false;
        while (pos < tokens.size()) {
            Token t = peek();
            String s = t.text();
            if (!t.isIdent()) {
                break;
            } else if (QUALIFIERS.contains(s)) {
                pos++;
                continue;
            } else if (s.equals("__attribute__")) {
                attributes.add(attribute());
                continue;
            } else if (s.equals("struct") || s.equals("union")) {
                other = setOnce(other, aggregateSpecifier());
            } else if (s.equals("enum")) {
                other = setOnce(other, enumSpecifier());
            } else if (TYPE_KEYWORDS.contains(s)) {
                count.merge(s.startsWith("__signed") ? "signed" : s, 1, Integer::sum);
                pos++;
            } else if (!any && tables.typedefs.containsKey(s)) {
                other = tables.typedefs.get(s);
                pos++;
            } else if (!any && tables.brokenTypedefs.containsKey(s)) {
                throw error("type " + s + " comes from a typedef kvm-bindgen could not parse: "
                        + tables.brokenTypedefs.get(s));
            } else if (!any) {
                throw error("unknown type name '" + s + "'" + brokenDeclarationsNote());
            } else {
                break;
            }
            any = true;
        }
        if (!any) {
            throw error("expected a type");
        }
        if (other != null) {
            if (!count.isEmpty()) {
                throw error("conflicting type specifiers " + count.keySet() + " and " + CType.describe(other));
            }
            return other;
        }
        return scalar(count);
    }

    private CType setOnce(CType previous, CType next) {
        if (previous != null) {
            throw error("two types in one declaration");
        }
        return next;
    }

    private CType scalar(Map<String, Integer> count) {
        boolean unsigned = count.containsKey("unsigned");
        if (unsigned && count.containsKey("signed")) {
            throw error("both signed and unsigned");
        }
        String sign = unsigned ? "unsigned " : "";
        int longs = count.getOrDefault("long", 0);
        if (count.containsKey("void")) {
            return new CType.Unsupported("void");
        } else if (count.containsKey("float") || count.containsKey("double")) {
            return new CType.Unsupported("floating point type");
        } else if (count.containsKey("_Bool")) {
            return new CType.Scalar("_Bool", 1, false);
        } else if (count.containsKey("char")) {
            String spelling = unsigned ? "unsigned char" : count.containsKey("signed") ? "signed char" : "char";
            return new CType.Scalar(spelling, 1, !unsigned); // plain char is signed on x86_64
        } else if (count.containsKey("short")) {
            return new CType.Scalar(sign + "short", 2, !unsigned);
        } else if (longs == 1) {
            return new CType.Scalar(sign + "long", 8, !unsigned);
        } else if (longs == 2) {
            return new CType.Scalar(sign + "long long", 8, !unsigned);
        } else if (longs > 2) {
            throw error("too many 'long's");
        }
        return new CType.Scalar(unsigned ? "unsigned int" : "int", 4, !unsigned);
    }

    /**
     * {@code struct|union [TAG] [{ members }]}. A tagged definition is stored in the tables and
     * returned as a {@link CType.TagRef}; an anonymous one is returned as the aggregate itself.
     */
    private CType aggregateSpecifier() {
        CType.Kind kind = next().is("struct") ? CType.Kind.STRUCT : CType.Kind.UNION;
        List<String> attrs = new ArrayList<>();
        attributes(attrs);
        String tag = pos < tokens.size() && peek().isIdent() && !peek().is("__attribute__") ? next().text() : null;
        attributes(attrs);
        if (!at("{")) {
            if (tag == null) {
                throw error("anonymous " + kind.keyword() + " without a body");
            }
            return new CType.TagRef(kind, tag);
        }
        List<CType.Field> fields = members();
        attributes(attrs);
        CType.Aggregate aggregate = new CType.Aggregate(kind, tag, fields, List.copyOf(attrs));
        if (tag == null) {
            return aggregate;
        }
        tables.parsed.put(kind.keyword() + " " + tag, aggregate);
        return new CType.TagRef(kind, tag);
    }

    private List<CType.Field> members() {
        expect("{");
        List<CType.Field> fields = new ArrayList<>();
        while (!accept("}")) {
            List<String> attrs = new ArrayList<>();
            CType base = specifiers(attrs);
            if (accept(";")) {
                if (base instanceof CType.Aggregate anonymous) {
                    fields.add(new CType.Field(null, anonymous, List.copyOf(attrs)));
                } else if (!(base instanceof CType.TagRef)) { // a nested tag declaration is no member
                    throw error("member declaration declares nothing");
                }
                continue;
            }
            do {
                Declarator d = declarator(base, false);
                CType type = d.type();
                if (accept(":")) {
                    type = new CType.Bitfield(type, conditional());
                }
                List<String> all = new ArrayList<>(attrs);
                attributes(all);
                fields.add(new CType.Field(d.name(), type, List.copyOf(all)));
            } while (accept(","));
            expect(";");
        }
        return List.copyOf(fields);
    }

    private CType enumSpecifier() {
        expect("enum");
        attributes(new ArrayList<>());
        String tag = pos < tokens.size() && peek().isIdent() ? next().text() : null;
        if (accept("{")) {
            String previous = null;
            while (!accept("}")) {
                String name = expectIdentifier();
                Expr value = accept("=") ? conditional()
                        : previous == null ? new Expr.Num("0")
                        : new Expr.Binary("+", new Expr.Ident(previous), new Expr.Num("1"));
                tables.enumerators.put(name, value);
                previous = name;
                if (!accept(",")) {
                    expect("}");
                    break;
                }
            }
        }
        return new CType.Unsupported("enum " + (tag == null ? "<anonymous>" : tag)
                + " (enum-typed members are not supported: their size depends on the values)");
    }

    /** {@code * name [N][M]}, {@code (*name)(...)}; with {@code abstractAllowed} the name may be absent. */
    private Declarator declarator(CType base, boolean abstractAllowed) {
        while (accept("*")) {
            while (pos < tokens.size() && (QUALIFIERS.contains(peek().text()) || peek().is("__attribute__"))) {
                if (peek().is("__attribute__")) {
                    attribute();
                } else {
                    pos++;
                }
            }
            base = new CType.Unsupported("pointer to " + CType.describe(base));
        }
        String name = null;
        int inner = -1;
        if (at("(")
                && (!abstractAllowed || peekAt(1).is("*") || peekAt(1).is("("))) {
            inner = pos;
            skipBalanced();
        } else if (pos < tokens.size() && peek().isIdent() && !peek().is("__attribute__")) {
            name = next().text();
        } else if (!abstractAllowed) {
            throw error("expected a member name");
        }
        CType type = suffixes(base);
        if (inner >= 0) {
            int after = pos;
            pos = inner + 1;
            Declarator d = declarator(type, abstractAllowed);
            expect(")");
            pos = after;
            return d;
        }
        return new Declarator(name, type);
    }

    private CType suffixes(CType base) {
        List<Expr> dims = new ArrayList<>();
        while (accept("[")) {
            dims.add(peek().is("]") ? null : conditional());
            expect("]");
        }
        if (at("(")) {
            skipBalanced();
            base = new CType.Unsupported("function returning " + CType.describe(base));
        }
        for (int i = dims.size() - 1; i >= 0; i--) {
            base = new CType.Array(base, dims.get(i));
        }
        return base;
    }

    private CType typeName() {
        CType base = specifiers(new ArrayList<>());
        Declarator d = declarator(base, true);
        if (d.name() != null) {
            throw error("a type name has no identifier, found '" + d.name() + "'");
        }
        return d.type();
    }

    /** {@code __attribute__((...))}, returned as written (tokens joined without spaces). */
    private String attribute() {
        expect("__attribute__");
        int from = pos;
        skipBalanced();
        StringBuilder sb = new StringBuilder("__attribute__");
        for (int i = from; i < pos; i++) {
            sb.append(tokens.get(i).text());
        }
        return sb.toString();
    }

    private void attributes(List<String> into) {
        while (at("__attribute__")) {
            into.add(attribute());
        }
    }

    // ---------------------------------------------------------------- expressions

    private Expr conditional() {
        Expr condition = binary(1);
        if (!accept("?")) {
            return condition;
        }
        Expr then = conditional();
        expect(":");
        return new Expr.Conditional(condition, then, conditional());
    }

    private Expr binary(int minPrecedence) {
        Expr left = unary();
        while (pos < tokens.size() && peek().kind() == Token.Kind.PUNCT) {
            Integer precedence = BINARY_PRECEDENCE.get(peek().text());
            if (precedence == null || precedence < minPrecedence) {
                break;
            }
            String op = next().text();
            left = new Expr.Binary(op, left, binary(precedence + 1));
        }
        return left;
    }

    private Expr unary() {
        Token t = peek();
        if (t.is("-") || t.is("+") || t.is("~") || t.is("!")) {
            pos++;
            return new Expr.Unary(t.text(), unary());
        }
        if (t.is("sizeof")) {
            pos++;
            if (peek().is("(") && isTypeStart(peekAt(1))) {
                pos++;
                CType type = typeName();
                expect(")");
                return new Expr.SizeOf(type);
            }
            throw error("sizeof of an expression is not supported, only sizeof(type)");
        }
        if (t.is("(")) {
            pos++;
            if (isTypeStart(peek())) {
                CType type = typeName();
                expect(")");
                return new Expr.Cast(type, unary());
            }
            Expr inner = conditional();
            expect(")");
            return inner;
        }
        if (t.kind() == Token.Kind.NUMBER) {
            pos++;
            return new Expr.Num(t.text());
        }
        if (t.isIdent()) {
            pos++;
            return at("(") ? new Expr.Call(t.text(), arguments()) : new Expr.Ident(t.text());
        }
        throw error("expected an integer constant expression");
    }

    private boolean isTypeStart(Token t) {
        return t.isIdent() && (TYPE_KEYWORDS.contains(t.text()) || QUALIFIERS.contains(t.text())
                || tables.typedefs.containsKey(t.text()));
    }

    /** Macro arguments as token lists, split at top-level commas. */
    private List<List<Token>> arguments() {
        expect("(");
        List<List<Token>> args = new ArrayList<>();
        List<Token> current = new ArrayList<>();
        int depth = 0;
        while (true) {
            Token t = next();
            if (depth == 0 && t.is(")")) {
                break;
            } else if (depth == 0 && t.is(",")) {
                args.add(List.copyOf(current));
                current.clear();
                continue;
            } else if (t.is("(")) {
                depth++;
            } else if (t.is(")")) {
                depth--;
            }
            current.add(t);
        }
        if (!current.isEmpty() || !args.isEmpty()) {
            args.add(List.copyOf(current));
        }
        return List.copyOf(args);
    }

    // ---------------------------------------------------------------- token helpers

    private Token peek() {
        if (pos >= tokens.size()) {
            throw new BindgenException("unexpected end of input"
                    + (tokens.isEmpty() ? "" : " after " + tokens.getLast()));
        }
        return tokens.get(pos);
    }

    private Token peekAt(int ahead) {
        return pos + ahead < tokens.size() ? tokens.get(pos + ahead) : new Token(Token.Kind.PUNCT, "<end>", -1);
    }

    private Token next() {
        Token t = peek();
        pos++;
        return t;
    }

    private boolean at(String s) {
        return pos < tokens.size() && peek().is(s);
    }

    private boolean accept(String s) {
        if (at(s)) {
            pos++;
            return true;
        }
        return false;
    }

    private void expect(String s) {
        if (!accept(s)) {
            throw error("expected '" + s + "'");
        }
    }

    private String expectIdentifier() {
        if (!peek().isIdent()) {
            throw error("expected an identifier");
        }
        return next().text();
    }

    private void expectEnd() {
        if (pos != tokens.size()) {
            throw error("unexpected tokens after the end");
        }
    }

    /** Skips a parenthesised group starting at the current {@code (}. */
    private void skipBalanced() {
        int depth = 0;
        do {
            Token t = next();
            if (t.is("(")) {
                depth++;
            } else if (t.is(")")) {
                depth--;
            }
        } while (depth > 0);
    }

    private BindgenException error(String message) {
        String where = pos < tokens.size() ? "line " + tokens.get(pos).line() + " near " + tokens.get(pos)
                : "at the end";
        return new BindgenException(where + ": " + message);
    }
}
