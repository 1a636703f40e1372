//! Detects whether the compiler has the AVX-512 intrinsics and `target_feature`s (stable
//! since Rust 1.89) so the AVX512-VNNI int8 table is compiled only there; the crate's
//! minimum Rust version stays lower for everything else.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wt_avx512)");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=wt_avx512");
    }
}
