package dev.panvm.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a benchmark fork finds what it runs: the repository root comes from the system property
 * {@code panvm.root} (set by {@link BenchMain}; default: the working directory), and every file
 * is checked before a VM is built, with the command that makes it.
 */
final class BenchEnv {
    private BenchEnv() {
    }

    static Path root() {
        return Path.of(System.getProperty("panvm.root", ".")).toAbsolutePath().normalize();
    }

    /** The ferrite image scripts/build-ferrite makes. */
    static Path ferrite() {
        return existing(root().resolve("guest-kernel/target/ferrite"), "scripts/build-ferrite");
    }

    /** A disk image images/build makes (bench-ext2.img, bench-raw.img). */
    static Path image(String name) {
        return existing(root().resolve("images/out").resolve(name), "images/build");
    }

    /** The host-Linux peer program (bench/linux-peer), built by scripts/bench. */
    static Path linuxPeer() {
        return existing(root().resolve("bench/target/linux-peer/peer"), "scripts/bench");
    }

    /** panvm's launcher script, as a user starts panvm (with the AOT cache scripts/build trained). */
    static Path panvmLauncher() {
        return existing(root().resolve("scripts/panvm"), "a checkout of the repository");
    }

    /** The client of 'panvm serve' (client/), which scripts/build builds. */
    static Path panvmClient() {
        return existing(root().resolve("client/target/release/panvm-client"), "scripts/build");
    }

    private static Path existing(Path p, String maker) {
        if (!Files.exists(p)) {
            throw new IllegalStateException(p + " does not exist; it is made by " + maker);
        }
        return p;
    }
}
