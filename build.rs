//! Link-time settings of the `vigie` binary.
//!
//! On Linux with glibc, relative relocations are packed (`-z
//! pack-relative-relocs`, the DT_RELR format of glibc 2.36 and binutils
//! 2.38): a position-independent binary of this size otherwise carries about
//! 2 MB of `.rela.dyn` that the loader reads once at start and that stays in
//! the daemon's resident memory (issue 14, BENCHMARKS.md). Older linkers
//! ignore the option with a warning.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
