//! `run --trace DIR`: every intermediate tensor of a run saved for offline comparison.
//!
//! Layout (stable; documented in the usage text so other tools can read it):
//! - `DIR/<index>_<name>.npy`: the `index`-th tensor an op produced (execution order, index
//!   zero-padded to at least 4 digits), `name` the register's debug name made file-safe.
//! - `DIR/trace.json`: `{"format": "wasm-torch-trace", "version": 1, "entries": [{"index",
//!   "name", "op", "dtype", "shape", "file"}, ...]}` with the unmodified name, the op that
//!   produced it (fully qualified ATen name) and the `.npy` file name relative to DIR.

use crate::common::{write, CliError};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use wasm_torch_format::Instr;
use wasm_torch_interp::{npy, Graph, Tensor};

/// `name` with every byte outside `[A-Za-z0-9_.-]` replaced by `_` (and at most 100 chars),
/// so it can be a file name or an `.npz` member on any OS.
pub fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// The op that writes each traced name. The interpreter names a traced register by its
/// debug name, or `<function>.%<register>` when it has none; the same rule is applied here
/// over every op call of every function. A name written by different ops maps to all of
/// them (`a|b`).
fn producers(g: &Graph) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    for f in &g.functions {
        for ins in &f.code {
            let Instr::CallOp { op, outputs, .. } = ins else {
                continue;
            };
            let Some(op) = g.ops.get(*op as usize) else {
                continue;
            };
            for &r in outputs {
                let name = match f.register_names.get(r as usize) {
                    Some(n) if !n.is_empty() => n.clone(),
                    _ => format!("{}.%{r}", f.name),
                };
                let e = map.entry(name).or_default();
                if e.is_empty() {
                    e.push_str(op);
                } else if !e.split('|').any(|x| x == op) {
                    e.push('|');
                    e.push_str(op);
                }
            }
        }
    }
    map
}

/// JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Write the trace into `dir` (created if needed); returns the number of tensors written.
pub fn save(dir: &Path, g: &Graph, traced: &[(String, Tensor)]) -> Result<usize, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::Io(format!("{}: {e}", dir.display())))?;
    let ops = producers(g);
    let width = traced.len().saturating_sub(1).to_string().len().max(4);
    let mut json =
        String::from("{\"format\": \"wasm-torch-trace\", \"version\": 1, \"entries\": [");
    for (i, (name, t)) in traced.iter().enumerate() {
        let file = format!("{i:0width$}_{}.npy", file_safe(name));
        write(&dir.join(&file), &npy::write_npy(t)?)?;
        let shape: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
        let op = ops.get(name).map(String::as_str).unwrap_or("");
        let _ = write!(
            json,
            "{}\n  {{\"index\": {i}, \"name\": {}, \"op\": {}, \"dtype\": {}, \"shape\": [{}], \"file\": {}}}",
            if i == 0 { "" } else { "," },
            json_str(name),
            json_str(op),
            json_str(t.dtype().name()),
            shape.join(", "),
            json_str(&file)
        );
    }
    json.push_str("\n]}\n");
    write(&dir.join("trace.json"), json.as_bytes())?;
    Ok(traced.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_file_names() {
        assert_eq!(file_safe("layer1.0/conv 1"), "layer1.0_conv_1");
        assert_eq!(file_safe(""), "_");
        assert_eq!(file_safe("../x"), "_.._x");
        assert_eq!(file_safe(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
