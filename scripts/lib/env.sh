# Shared by the scripts in scripts/: finds the tools panvm needs and stops with one clear line
# when one is missing. Source it; do not run it.

PANVM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PANVM_ROOT

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# java_major JAVA_BINARY: prints the feature version (17, 25, ...) of a java binary, or nothing.
# Reads the JDK's release file when there is one (starting a JVM to ask costs ~100 ms).
java_major() {
    local home release
    home="$(dirname "$(dirname "$1")")"
    release="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" 2>/dev/null | head -n1)"
    if [[ -n "$release" ]]; then
        echo "$release"
        return
    fi
    "$1" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1
}

# find_jdk: exports JAVA_HOME and PATH for a JDK >= 22 (the Foreign Function & Memory API is
# final from 22). Tries JAVA_HOME first, then the newest under /usr/lib/jvm.
find_jdk() {
    local candidate major best="" best_major=0
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        major="$(java_major "$JAVA_HOME/bin/java")"
        if [[ -n "$major" && "$major" -ge 22 ]]; then
            best="$JAVA_HOME"; best_major="$major"
        fi
    fi
    if [[ -z "$best" ]]; then
        for candidate in /usr/lib/jvm/*; do
            [[ -x "$candidate/bin/java" && -x "$candidate/bin/javac" ]] || continue
            major="$(java_major "$candidate/bin/java")"
            if [[ -n "$major" && "$major" -ge 22 && "$major" -gt "$best_major" ]]; then
                best="$candidate"; best_major="$major"
            fi
        done
    fi
    [[ -n "$best" ]] || die "no JDK >= 22 found (looked at JAVA_HOME and /usr/lib/jvm/*); panvm needs the FFM API of Java 22+"
    export JAVA_HOME="$best"
    export PATH="$JAVA_HOME/bin:$PATH"
}

# find_cargo: puts rustup's cargo on PATH when it is installed for this user but not on PATH.
find_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found; ferrite needs a Rust toolchain (rustup, stable)"
}

# mvn_run ARGS...: Maven on the JDK found above, quiet unless PANVM_VERBOSE=1.
mvn_run() {
    command -v mvn >/dev/null 2>&1 || die "mvn not found; install Maven (apt-get install maven)"
    local flags=(-B)
    [[ "${PANVM_VERBOSE:-0}" == 1 ]] || flags+=(-q)
    # Maven 3.8 on JDK 24+ warns about its bundled guava using sun.misc.Unsafe; harmless.
    (cd "$PANVM_ROOT" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn "${flags[@]}" "$@")
}

PANVM_JAR="$PANVM_ROOT/vmm/target/panvm.jar"
PANVM_AOT="$PANVM_ROOT/vmm/target/panvm.aot"
PANVM_TUNE_JAR="$PANVM_ROOT/tune/target/panvm-tune.jar"
BENCH_JAR="$PANVM_ROOT/bench/target/benchmarks.jar"
FERRITE_ELF="$PANVM_ROOT/guest-kernel/target/ferrite"
PANVM_CLIENT="$PANVM_ROOT/client/target/release/panvm-client"

# build_client [--test]: builds panvm-client, the client of 'panvm serve' (client/); with --test
# also runs its unit tests.
build_client() {
    (cd "$PANVM_ROOT/client" && cargo build -q --release)
    if [[ "${1:-}" == --test ]]; then
        (cd "$PANVM_ROOT/client" && cargo test -q --release)
    fi
}

# train_aot: (re)creates panvm's AOT cache (JDK 25+, JEP 483/515) from one ferrite boot unless it
# is newer than the jar: the classes panvm loads and links at start-up, cached, cut the time
# from 'panvm run' to the guest's first instruction. scripts/panvm uses the cache when fresh.
# The training run has no sandbox: the JVM writes the cache when it exits, which the sandbox forbids.
train_aot() {
    [[ -f "$PANVM_AOT" && "$PANVM_AOT" -nt "$PANVM_JAR" ]] && return 0
    rm -f "$PANVM_AOT"
    [[ "$(java_major "$JAVA_HOME/bin/java")" -ge 25 && -w /dev/kvm && -f "$FERRITE_ELF" ]] || return 0
    echo "== training panvm's AOT cache (one ferrite boot)" >&2
    if ! "$JAVA_HOME/bin/java" -XX:AOTCacheOutput="$PANVM_AOT" -XX:-UsePerfData --enable-native-access=ALL-UNNAMED \
            -jar "$PANVM_JAR" run --no-sandbox --kernel "$FERRITE_ELF" --mem 64M >/dev/null 2>"$PANVM_AOT.log"; then
        echo "   (training run failed, see $PANVM_AOT.log; panvm runs without the cache)" >&2
        rm -f "$PANVM_AOT"
    fi
}
