//! Runs the `wasm-torch` binary on the golden files and on corrupted copies.

use std::path::PathBuf;
use std::process::{Command, Output};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../format-spec/tests/golden")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasm-torch"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_copy(name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut b = std::fs::read(golden(name)).unwrap();
    edit(&mut b);
    let p = std::env::temp_dir().join(format!("wtb-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn inspect_shows_the_model() {
    let out = run(&["inspect", golden("tiny_v1_0.wtb").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("format    1.0"), "{s}");
    assert!(s.contains("input   x: f32[batch, 3]"), "{s}");
    assert!(s.contains("output  y: f32[batch, 2]"), "{s}");
    assert!(
        s.contains("aten::linear.default") && s.contains("calls 1"),
        "{s}"
    );
    assert!(s.contains("tensors (2, 32 B)"), "{s}");
    assert!(s.contains("chunks (1)") && s.contains("stored"), "{s}");
    let out = run(&["inspect", golden("kitchen_sink_v1_0.wtb").to_str().unwrap()]);
    let s = text(&out.stdout);
    assert!(out.status.success());
    assert!(s.contains("f32 stored as i8 per-channel"), "{s}");
    assert!(s.contains("f32 stored as f16"), "{s}");
    assert!(s.contains("zstd"), "{s}");
    // Call counts come from the bytecode of all functions.
    let calls = |op: &str| {
        s.lines()
            .find(|l| l.contains(op))
            .map(|l| l.split_whitespace().last().unwrap().to_string())
    };
    assert_eq!(calls("aten::linear.default").as_deref(), Some("1"), "{s}");
    assert_eq!(calls("aten::relu.default").as_deref(), Some("0"), "{s}");
    assert_eq!(calls("aten::add.Tensor").as_deref(), Some("1"), "{s}");
    assert!(s.contains("ratio 62.06"), "{s}");
}

/// Scalar inputs (format 1.1) show as the int/float/bool they are, with their defaults, not
/// as the 0-d tensors that carry them.
#[test]
fn inspect_shows_scalar_inputs_as_scalars() {
    let out = run(&["inspect", golden("scalars_v1_1.wtb").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("input   x: f32[batch, 3]"), "{s}");
    assert!(s.contains("input   n: int scalar\n"), "{s}");
    assert!(s.contains("input   alpha: float scalar = 0.5\n"), "{s}");
    assert!(s.contains("input   flag: bool scalar = true\n"), "{s}");
}

#[test]
fn validate_accepts_valid_and_rejects_corrupt_files() {
    for name in ["tiny_v1_0.wtb", "kitchen_sink_v1_0.wtb"] {
        let out = run(&["validate", golden(name).to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("valid .wtb 1.0"));
    }
    // A flipped weight byte: only decoding the chunk finds it.
    let p = temp_copy("tiny_v1_0.wtb", |b| b[710] ^= 1);
    let out = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ChecksumMismatch"),
        "{}",
        text(&out.stderr)
    );
    // inspect does not decode weights, so it still works on that file.
    assert!(run(&["inspect", p.to_str().unwrap()]).status.success());
    std::fs::remove_file(p).unwrap();
    // Truncated: error names the kind.
    let p = temp_copy("tiny_v1_0.wtb", |b| b.truncate(300));
    let out = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Truncated"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(p).unwrap();
    // Empty file.
    let p = temp_copy("tiny_v1_0.wtb", |b| b.clear());
    assert_eq!(
        run(&["validate", p.to_str().unwrap()]).status.code(),
        Some(1)
    );
    std::fs::remove_file(p).unwrap();
}

#[test]
fn usage_errors() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["validate"]).status.code(), Some(2));
    assert_eq!(
        run(&["validate", "/nonexistent/x.wtb"]).status.code(),
        Some(2)
    );
    assert!(run(&["help"]).status.success());
}
