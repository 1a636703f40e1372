//! `wasm-torch run FILE [INPUT.npy ...] [--input NAME=x.npy ...] [--output out.npz]
//! [--profile] [--trace DIR] [--runs N]`: run a model natively and show what it computed,
//! optionally saving outputs, a per-op profile and every intermediate tensor.

use crate::common::{human, ms, parse_args, write, CliError};
use crate::feed::{gather, load};
use crate::trace;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;
use wasm_torch_interp::{npy, Profile, Tensor};

/// Values printed per output.
const SHOWN: usize = 8;

/// Run the subcommand.
pub fn run(args: &[String]) -> Result<(), CliError> {
    let p = parse_args(args, &["input", "output", "trace", "runs"], &["profile"])?;
    let Some((file, positional)) = p.positional.split_first() else {
        return Err(CliError::Usage("run: expected FILE".into()));
    };
    let runs = p.count("runs", 1, 1, 1_000_000)?;
    let output = p.one("output")?;
    if let Some(o) = output {
        if o.is_empty() {
            return Err(CliError::Usage("--output needs a file name".into()));
        }
    }
    let trace_dir = p.one("trace")?;
    let mut loaded = load(file)?;
    let mut feeds: Vec<&str> = positional.iter().map(String::as_str).collect();
    feeds.extend(p.all("input"));
    let inputs = gather(loaded.session.program().inputs(), &feeds)?;
    let session = &mut loaded.session;
    session.set_profiling(p.has("profile"));
    session.set_trace(trace_dir.is_some());

    let mut times = Vec::with_capacity(runs);
    let mut outputs = Vec::new();
    let mut traced = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        outputs = session.run_positional(inputs.clone())?;
        times.push(ms(t.elapsed()));
        if trace_dir.is_some() {
            // Keep the last run's trace only: every run computes the same tensors.
            traced = session.take_trace();
        }
    }

    let program = session.program().clone();
    let names: Vec<String> = program.outputs().iter().map(|s| s.name.clone()).collect();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "loaded {file} in {:.3} ms (mmap, {} weights) + {:.3} ms planning",
        loaded.load_ms,
        human(program.weight_bytes()),
        loaded.plan_ms
    );
    for (name, t) in names.iter().zip(&outputs) {
        show_output(&mut o, name, t);
    }
    let _ = writeln!(o, "{}", timing(&times));
    if let Some(prof) = session.profile() {
        profile_table(&mut o, prof);
    }
    print!("{o}");

    if let Some(path) = output {
        save_outputs(path, &names, &outputs)?;
        println!("wrote {} output(s) to {path}", outputs.len());
    }
    if let Some(dir) = trace_dir {
        let n = trace::save(Path::new(dir), program.graph(), &traced)?;
        println!("wrote {n} traced tensors and trace.json to {dir}");
    }
    Ok(())
}

/// `time 1.234 ms` for one run, or median/min/max over several.
fn timing(times: &[f64]) -> String {
    if let [t] = times {
        return format!("time {t:.3} ms");
    }
    let mut s = times.to_vec();
    s.sort_by(f64::total_cmp);
    format!(
        "time over {} runs: median {:.3} ms, min {:.3} ms, max {:.3} ms",
        s.len(),
        s[s.len() / 2],
        s[0],
        s[s.len() - 1]
    )
}

/// A number printed short but exactly enough to compare by eye.
pub fn fmt_f(v: f32) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-4..1e6).contains(&a) {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.into()
        }
    } else if v.is_finite() {
        format!("{v:.4e}")
    } else {
        format!("{v}")
    }
}

fn show_output(o: &mut String, name: &str, t: &Tensor) {
    let _ = writeln!(o, "output {name}: {}{:?}", t.dtype().name(), t.shape());
    let n = t.numel();
    let more = if n > SHOWN {
        format!(" ... ({n} values)")
    } else {
        String::new()
    };
    let float = t.dtype().is_float();
    let head: Vec<String> = if float {
        t.to_f32_vec()
            .iter()
            .take(SHOWN)
            .map(|&v| fmt_f(v))
            .collect()
    } else {
        t.to_i64_vec()
            .iter()
            .take(SHOWN)
            .map(|v| v.to_string())
            .collect()
    };
    let _ = writeln!(o, "  values [{}]{more}", head.join(", "));
    // Logits-like: a float vector, possibly inside leading size-1 dims ([1, 1000]).
    let vector = t.shape().iter().filter(|&&d| d > 1).count() == 1;
    if float && vector && n > SHOWN.min(5) {
        let v = t.to_f32_vec();
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        let top: Vec<String> = idx
            .iter()
            .take(5)
            .map(|&i| format!("{i}: {}", fmt_f(v[i])))
            .collect();
        let _ = writeln!(o, "  top-5 [{}]", top.join(", "));
    }
}

fn profile_table(o: &mut String, p: &Profile) {
    let hot = p.hottest();
    let op_ns: u64 = hot.iter().map(|x| x.total_ns).sum();
    let calls: u64 = hot.iter().map(|x| x.calls).sum();
    let runs = p.runs.max(1) as f64;
    let _ = writeln!(
        o,
        "\nprofile ({} run{}, per-run averages{})",
        p.runs,
        if p.runs == 1 { "" } else { "s" },
        if p.timed {
            ""
        } else {
            "; no clock, times are 0"
        }
    );
    let _ = writeln!(
        o,
        "  {:<40} {:>8} {:>11} {:>11} {:>6}",
        "op", "calls", "ms", "us/call", "%"
    );
    for x in &hot {
        let pct = if op_ns == 0 {
            0.0
        } else {
            100.0 * x.total_ns as f64 / op_ns as f64
        };
        let _ = writeln!(
            o,
            "  {:<40} {:>8} {:>11.3} {:>11.2} {:>5.1}%",
            x.name,
            x.calls as f64 / runs,
            x.total_ns as f64 / 1e6 / runs,
            x.total_ns as f64 / 1e3 / x.calls.max(1) as f64,
            pct
        );
    }
    let _ = writeln!(
        o,
        "  {:<40} {:>8} {:>11.3}",
        "total in ops",
        calls as f64 / runs,
        op_ns as f64 / 1e6 / runs
    );
    let _ = writeln!(
        o,
        "  {:<40} {:>8} {:>11.3}",
        "total run (incl. interpreter)",
        "",
        p.total_ns as f64 / 1e6 / runs
    );
    let _ = writeln!(
        o,
        "  {:<40} {:>8} {:>11.3}",
        "  of it profiler bookkeeping",
        "",
        p.bookkeeping_ns as f64 / 1e6 / runs
    );
    let _ = writeln!(
        o,
        "  {:<40} {:>8} {:>11.3}",
        "  of it executor outside ops",
        "",
        p.total_ns.saturating_sub(p.bookkeeping_ns + op_ns) as f64 / 1e6 / runs
    );
    let _ = writeln!(
        o,
        "  peak tensor memory: planned {}, actual {}",
        exact_bytes(p.planned_peak_bytes),
        exact_bytes(p.actual_peak_bytes)
    );
}

/// `1234 B`, or `1.2 KiB (1234 B)` from 1 KiB on.
fn exact_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{} ({n} B)", human(n))
    }
}

/// Save the outputs: one `.npy` when the path ends so (one output only), else an `.npz`.
fn save_outputs(path: &str, names: &[String], outs: &[Tensor]) -> Result<(), CliError> {
    let bytes = if path.ends_with(".npy") {
        match outs {
            [t] => npy::write_npy(t)?,
            _ => {
                return Err(CliError::Usage(format!(
                    "--output {path}: the model has {} outputs; a .npy holds one, use .npz",
                    outs.len()
                )))
            }
        }
    } else {
        let entries: Vec<(String, Tensor)> = names
            .iter()
            .map(|n| crate::trace::file_safe(n))
            .zip(outs.iter().cloned())
            .collect();
        npy::write_npz(&entries)?
    };
    write(Path::new(path), &bytes)
}
