//! `run`, `bench` and `ops` on small models packed here with known weights, so every printed
//! and saved number can be checked by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wasm_torch_format::{ConstValue, DType};
use wasm_torch_interp::{npy, Tensor};
use wasm_torch_packer::ModelIr;
use wasm_torch_test_support::{fixed, pack_default, sym, ModelBuilder};

fn wt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasm-torch"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh scratch directory per test.
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wtcli-run-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_model(dir: &Path, name: &str, ir: &ModelIr) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pack_default(ir)).unwrap();
    p
}

fn write_npy(dir: &Path, name: &str, t: &Tensor) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, npy::write_npy(t).unwrap()).unwrap();
    p
}

const W: [f32; 6] = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
const B: [f32; 2] = [0.5, -0.5];

/// x: f32[batch, 3] → y = x Wᵀ + b (W 2x3), z = relu(y); outputs (y, z).
fn linear_model() -> ModelIr {
    let batch = || vec![sym("batch"), fixed(2)];
    let mut m = ModelBuilder::new("linear").name_registers();
    let x = m.input("x", DType::F32, vec![sym("batch"), fixed(3)]);
    let w = m.weight_f32("fc.weight", &[2, 3], &W);
    let b = m.weight_f32("fc.bias", &[2], &B);
    let y = m.call_named("y", "aten::linear.default", &[x, w, b]);
    let z = m.call_named("z", "aten::relu.default", &[y]);
    m.output("y", DType::F32, batch(), y);
    m.output("z", DType::F32, batch(), z);
    m.build()
}

/// a, b: f32[2] (fully fixed) → d = a - b; order matters, so swapped inputs show.
fn sub_model() -> ModelIr {
    let mut m = ModelBuilder::new("sub").name_registers();
    let a = m.input("a", DType::F32, vec![fixed(2)]);
    let b = m.input("b", DType::F32, vec![fixed(2)]);
    let alpha = m.constant(ConstValue::Int(1));
    let d = m.call_named("d", "aten::sub.Tensor", &[a, b, alpha]);
    m.output("d", DType::F32, vec![fixed(2)], d);
    m.build()
}

/// x: f32[1, 10] → relu(x): a logits-like vector.
fn logits_model() -> ModelIr {
    let mut m = ModelBuilder::new("logits").name_registers();
    let x = m.input("x", DType::F32, vec![fixed(1), fixed(10)]);
    let y = m.call("aten::relu.default", &[x]);
    m.output("logits", DType::F32, vec![fixed(1), fixed(10)], y);
    m.build()
}

fn x_input() -> Tensor {
    Tensor::from_f32(vec![2, 3], vec![1.0, 1.0, 1.0, 2.0, 0.0, -1.0])
}

/// y and z of the linear model for `x_input`, computed by hand.
const Y: [f32; 4] = [6.5, -0.5, -0.5, -3.5];
const Z: [f32; 4] = [6.5, 0.0, 0.0, 0.0];

fn expected_y() -> Vec<f32> {
    let x = x_input().to_f32_vec();
    let mut y = Vec::new();
    for r in 0..2 {
        for o in 0..2 {
            y.push((0..3).map(|k| x[r * 3 + k] * W[o * 3 + k]).sum::<f32>() + B[o]);
        }
    }
    y
}

fn no_panic(out: &Output) {
    let e = text(&out.stderr);
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn run_prints_outputs_for_named_and_positional_inputs() {
    assert_eq!(expected_y(), Y);
    let d = scratch("named");
    let m = write_model(&d, "lin.wtb", &linear_model());
    let x = write_npy(&d, "x.npy", &x_input());
    let named = format!("x={}", s(&x));
    for args in [
        vec!["run", s(&m), "--input", &named],
        vec!["run", s(&m), s(&x)],
        vec!["run", s(&m), "--input", s(&x)],
        vec!["run", s(&m), &format!("--input={named}")],
    ] {
        let out = wt(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let o = text(&out.stdout);
        assert!(o.contains("output y: f32[2, 2]"), "{o}");
        assert!(o.contains("values [6.5, -0.5, -0.5, -3.5]"), "{o}");
        assert!(o.contains("output z: f32[2, 2]"), "{o}");
        assert!(o.contains("values [6.5, 0, 0, 0]"), "{o}");
        assert!(o.contains("time ") && o.contains(" ms"), "{o}");
        assert!(o.contains("(mmap"), "{o}");
    }
    // Several runs report statistics.
    let out = wt(&["run", s(&m), s(&x), "--runs", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("time over 3 runs: median"));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn named_inputs_go_to_their_slot_whatever_the_order() {
    let d = scratch("sub");
    let m = write_model(&d, "sub.wtb", &sub_model());
    let a = write_npy(&d, "a.npy", &Tensor::from_f32(vec![2], vec![10.0, 20.0]));
    let b = write_npy(&d, "b.npy", &Tensor::from_f32(vec![2], vec![1.0, 2.5]));
    let an = format!("a={}", s(&a));
    let bn = format!("b={}", s(&b));
    for args in [
        vec!["run", s(&m), s(&a), s(&b)],
        vec!["run", s(&m), "--input", &bn, "--input", &an],
        // b by name, so the positional file fills a.
        vec!["run", s(&m), "--input", &bn, s(&a)],
    ] {
        let out = wt(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("values [9, 17.5]"),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    // Positionally swapped: b - a.
    let out = wt(&["run", s(&m), s(&b), s(&a)]);
    assert!(text(&out.stdout).contains("values [-9, -17.5]"));
    // --output as .npy for a one-output model.
    let o = d.join("d.npy");
    let out = wt(&["run", s(&m), s(&a), s(&b), "--output", s(&o)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = npy::read_npy(&std::fs::read(&o).unwrap()).unwrap();
    assert_eq!(t.shape(), &[2]);
    assert_eq!(t.to_f32_vec(), vec![9.0, 17.5]);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn missing_or_wrong_inputs_are_typed_errors() {
    let d = scratch("errors");
    let m = write_model(&d, "sub.wtb", &sub_model());
    let lin = write_model(&d, "lin.wtb", &linear_model());
    let a = write_npy(&d, "a.npy", &Tensor::from_f32(vec![2], vec![1.0, 2.0]));
    // Fully fixed shapes, but nothing is invented: both inputs are listed.
    let out = wt(&["run", s(&m), s(&a)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("invalid_input: missing input(s) 'b'"), "{e}");
    assert!(
        e.contains("[0] a: f32[2]") && e.contains("[1] b: f32[2]"),
        "{e}"
    );
    let out = wt(&["run", s(&lin)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("x: f32[batch, 3]"));
    // Wrong shape, wrong dtype.
    let x4 = write_npy(&d, "x4.npy", &Tensor::from_f32(vec![1, 4], vec![0.0; 4]));
    let out = wt(&["run", s(&lin), s(&x4)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("invalid_input") && e.contains("dim 1"), "{e}");
    let xi = write_npy(&d, "xi.npy", &Tensor::from_i64(vec![1, 3], vec![1, 2, 3]));
    let out = wt(&["run", s(&lin), s(&xi)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("dtype i64"),
        "{}",
        text(&out.stderr)
    );
    // One too many, an unknown name, the same name twice.
    let out = wt(&["run", s(&m), s(&a), s(&a), s(&a)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("one input too many"));
    let out = wt(&["run", s(&m), "--input", "nope=a.npy", s(&a)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("'nope' is not an input"),
        "{}",
        text(&out.stderr)
    );
    let an = format!("a={}", s(&a));
    let out = wt(&["run", s(&m), "--input", &an, "--input", &an]);
    assert!(text(&out.stderr).contains("input 'a' given twice"));
    // A file that is not .npy, a missing file, a missing model, bad options.
    let junk = d.join("junk.npy");
    std::fs::write(&junk, b"not numpy").unwrap();
    let out = wt(&["run", s(&m), s(&a), s(&junk)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("input 'b' from"));
    assert_eq!(
        wt(&["run", s(&m), s(&a), "/nonexistent/b.npy"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(wt(&["run", "/nonexistent/m.wtb"]).status.code(), Some(2));
    assert_eq!(wt(&["run"]).status.code(), Some(2));
    assert_eq!(wt(&["run", s(&m), "--runs", "0"]).status.code(), Some(2));
    assert_eq!(wt(&["run", s(&m), "--frob"]).status.code(), Some(2));
    // A corrupt model file is a bad_file error.
    let bad = d.join("bad.wtb");
    std::fs::write(&bad, &std::fs::read(&m).unwrap()[..100]).unwrap();
    let out = wt(&["run", s(&bad), s(&a), s(&a)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad_file"),
        "{}",
        text(&out.stderr)
    );
    // An op the interpreter does not implement: named, before anything runs.
    let mut ir = sub_model();
    ir.ops[0] = "aten::frobnicate.default".into();
    let unsupported = write_model(&d, "unsupported.wtb", &ir);
    let out = wt(&["run", s(&unsupported), s(&a), s(&a)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.contains("unsupported_ops") && e.contains("aten::frobnicate.default (x1)"),
        "{e}"
    );
    // Two outputs do not fit in one .npy.
    let x = write_npy(&d, "x.npy", &x_input());
    let out = wt(&["run", s(&lin), s(&x), "--output", s(&d.join("o.npy"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use .npz"));
    std::fs::remove_dir_all(d).unwrap();
}

/// Members of a stored (uncompressed) zip, read through its central directory.
fn unzip(z: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |o: usize| u16::from_le_bytes([z[o], z[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(z[o..o + 4].try_into().unwrap()) as usize;
    let eocd = z.len() - 22;
    assert_eq!(u32_at(eocd), 0x0605_4b50, "end of central directory");
    let count = u16_at(eocd + 10);
    let mut cd = u32_at(eocd + 16);
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(cd), 0x0201_4b50, "central directory entry");
        assert_eq!(u16_at(cd + 10), 0, "stored");
        let size = u32_at(cd + 20);
        let name_len = u16_at(cd + 28);
        let extra = u16_at(cd + 30);
        let comment = u16_at(cd + 32);
        let local = u32_at(cd + 42);
        let name = String::from_utf8(z[cd + 46..cd + 46 + name_len].to_vec()).unwrap();
        assert_eq!(u32_at(local), 0x0403_4b50, "local header");
        let data_at = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        out.push((name, z[data_at..data_at + size].to_vec()));
        cd += 46 + name_len + extra + comment;
    }
    out
}

#[test]
fn output_npz_holds_every_output() {
    let d = scratch("npz");
    let m = write_model(&d, "lin.wtb", &linear_model());
    let x = write_npy(&d, "x.npy", &x_input());
    let o = d.join("out.npz");
    let out = wt(&["run", s(&m), s(&x), "--output", s(&o)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wrote 2 output(s)"));
    let members = unzip(&std::fs::read(&o).unwrap());
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["y.npy", "z.npy"]);
    for ((_, bytes), want) in members.iter().zip([Y, Z]) {
        let t = npy::read_npy(bytes).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.to_f32_vec(), want);
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn profile_lists_op_kinds_and_memory() {
    let d = scratch("profile");
    let m = write_model(&d, "lin.wtb", &linear_model());
    let x = write_npy(&d, "x.npy", &x_input());
    let out = wt(&["run", s(&m), s(&x), "--profile", "--runs", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.contains("profile (2 runs"), "{o}");
    let row = |op: &str| {
        o.lines()
            .find(|l| l.trim_start().starts_with(op))
            .unwrap_or_else(|| panic!("no row for {op}: {o}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    // one call of each per run
    assert_eq!(row("aten::linear.default"), "1", "{o}");
    assert_eq!(row("aten::relu.default"), "1", "{o}");
    let total = o.lines().find(|l| l.contains("total in ops")).unwrap();
    assert_eq!(total.split_whitespace().nth(3), Some("2"), "{o}");
    assert!(o.contains("total run (incl. interpreter)"), "{o}");
    // y and z (2x2 f32 each) are alive together at the end: at least 32 bytes.
    let peak = o
        .lines()
        .find(|l| l.contains("peak tensor memory"))
        .unwrap_or_else(|| panic!("{o}"));
    assert!(
        peak.contains("planned") && peak.contains("actual"),
        "{peak}"
    );
    // "... actual 32 B" or "... actual 1.2 KiB (1234 B)": the last number is in bytes.
    let words: Vec<&str> = peak.split_whitespace().collect();
    assert_eq!(words.last(), Some(&"B"), "{peak}");
    let actual: u64 = words[words.len() - 2]
        .trim_start_matches('(')
        .parse()
        .unwrap();
    assert!(actual >= 32, "{peak}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn trace_writes_every_intermediate_and_an_index() {
    let d = scratch("trace");
    let m = write_model(&d, "lin.wtb", &linear_model());
    let x = write_npy(&d, "x.npy", &x_input());
    let t = d.join("tr");
    let out = wt(&["run", s(&m), s(&x), "--trace", s(&t)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wrote 2 traced tensors"));
    let y = npy::read_npy(&std::fs::read(t.join("0000_y.npy")).unwrap()).unwrap();
    assert_eq!(y.to_f32_vec(), Y);
    let z = npy::read_npy(&std::fs::read(t.join("0001_z.npy")).unwrap()).unwrap();
    assert_eq!(z.to_f32_vec(), Z);
    let j = std::fs::read_to_string(t.join("trace.json")).unwrap();
    assert!(
        j.starts_with("{\"format\": \"wasm-torch-trace\", \"version\": 1"),
        "{j}"
    );
    assert!(
        j.contains(
            "{\"index\": 0, \"name\": \"y\", \"op\": \"aten::linear.default\", \
             \"dtype\": \"f32\", \"shape\": [2, 2], \"file\": \"0000_y.npy\"}"
        ),
        "{j}"
    );
    assert!(j.contains("\"index\": 1, \"name\": \"z\", \"op\": \"aten::relu.default\""));
    // A register without a debug name is traced as <function>.%<register>.
    let l = write_model(&d, "logits.wtb", &logits_model());
    let xl = write_npy(&d, "xl.npy", &Tensor::from_f32(vec![1, 10], vec![0.0; 10]));
    let out = wt(&["run", s(&l), s(&xl), "--trace", s(&t)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j = std::fs::read_to_string(t.join("trace.json")).unwrap();
    assert!(
        j.contains("\"name\": \"forward.%1\", \"op\": \"aten::relu.default\"")
            && j.contains("\"file\": \"0000_forward._1.npy\""),
        "{j}"
    );
    assert!(t.join("0000_forward._1.npy").exists());
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn logits_show_top5() {
    let d = scratch("top5");
    let m = write_model(&d, "logits.wtb", &logits_model());
    let v = vec![0.1, 3.0, -2.0, 0.5, 7.25, 0.0, 2.0, 3.0, -1.0, 1.5];
    let x = write_npy(&d, "x.npy", &Tensor::from_f32(vec![1, 10], v));
    let out = wt(&["run", s(&m), s(&x)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.contains("output logits: f32[1, 10]"), "{o}");
    assert!(o.contains("... (10 values)"), "{o}");
    // ties keep the lower index first
    assert!(
        o.contains("top-5 [4: 7.25, 1: 3, 7: 3, 6: 2, 9: 1.5]"),
        "{o}"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn ops_lists_the_registry() {
    let out = wt(&["ops"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let names: Vec<&str> = o.lines().collect();
    for n in &names {
        assert!(
            ["aten::", "prim::", "torchvision::", "wasm_torch::"]
                .iter()
                .any(|ns| n.starts_with(ns)),
            "{n}"
        );
        assert!(
            !n.contains(char::is_whitespace),
            "one bare name per line: {n:?}"
        );
    }
    for op in [
        "aten::linear.default",
        "aten::relu.default",
        "aten::convolution.default",
        "aten::sub.Tensor",
    ] {
        assert!(names.contains(&op), "{op} missing");
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, names, "sorted and unique");
    assert_eq!(
        names.len(),
        wasm_torch_interp::supported_ops().len(),
        "one line per registry entry"
    );
    assert_eq!(wt(&["ops", "extra"]).status.code(), Some(2));
}

#[test]
fn bench_prints_latency_statistics() {
    let d = scratch("bench");
    let m = write_model(&d, "lin.wtb", &linear_model());
    let x = write_npy(&d, "x.npy", &x_input());
    let xn = format!("x={}", s(&x));
    let out = wt(&[
        "bench",
        s(&m),
        "--input",
        &xn,
        "--runs",
        "5",
        "--warmup",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let value = |key: &str| -> f64 {
        let l = o
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key}: {o}"));
        l[key.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (min, med, p90, max) = (value("min"), value("median"), value("p90"), value("max"));
    assert!(min > 0.0 && min <= med && med <= p90 && p90 <= max, "{o}");
    assert!(value("load (mmap)") > 0.0, "{o}");
    assert!(o.contains("runs         5 timed after 1 warm-up"), "{o}");
    // bench shares run's input checks.
    let out = wt(&["bench", s(&m)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing input(s) 'x'"));
    assert_eq!(
        wt(&["bench", s(&m), s(&x), "--warmup", "x"]).status.code(),
        Some(2)
    );
    std::fs::remove_dir_all(d).unwrap();
}
