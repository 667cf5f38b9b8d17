//! Link arguments for the freestanding kernel binary only. (Code-generation
//! flags are in ../.cargo/config.toml; they are harmless for host tests, these
//! link arguments are not, so they are scoped to this crate's binary.)

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker.ld");
    for arg in [
        &format!("-T{dir}/linker.ld"),
        "-nostartfiles",
        "-nostdlib",
        "-static",
        // Keep PT_NOTE holding only the PVH note.
        "-Wl,--build-id=none",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
