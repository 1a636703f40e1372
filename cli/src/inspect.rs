//! `wasm-torch inspect FILE`: what is in a model file — versions, sections, metadata,
//! signature, the op table with how often the bytecode calls each op, tensors by dtype and
//! bytes, and chunks with codec and compression ratio.

use crate::common::{human, one_file, open, CliError};
use std::collections::BTreeMap;
use std::fmt::Write;
use wasm_torch_format::{
    parse_file_detailed, Dim, Graph, Instr, Limits, Quantization, Scalar, ValueSpec, FORMAT_MAJOR,
    FORMAT_MINOR,
};

/// Run the subcommand.
pub fn run(args: &[String]) -> Result<(), CliError> {
    let path = one_file(args)?;
    let file = open(path)?;
    let bytes = file.bytes();
    let (header, g) = parse_file_detailed(bytes, &Limits::default())?;
    let mut o = String::new();
    let _ = writeln!(o, "file      {path} ({})", human(bytes.len() as u64));
    let _ = writeln!(
        o,
        "format    {}.{} (reader {FORMAT_MAJOR}.{FORMAT_MINOR})",
        g.version.0, g.version.1
    );
    let _ = writeln!(o, "\nsections");
    for s in &header.sections {
        let _ = writeln!(
            o,
            "  {:<14} offset {:>10}  length {:>10}{}",
            s.kind.to_string(),
            s.offset,
            s.length,
            if s.required { "" } else { "  (optional)" }
        );
    }
    metadata(&mut o, &g);
    signature(&mut o, &g);
    ops(&mut o, &g);
    functions(&mut o, &g);
    tensors(&mut o, &g);
    chunks(&mut o, &g);
    print!("{o}");
    Ok(())
}

fn metadata(o: &mut String, g: &Graph) {
    let m = &g.metadata;
    let _ = writeln!(o, "\nmetadata");
    for (k, v) in [
        ("model", &m.model_name),
        ("producer", &m.producer),
        ("exporter", &m.exporter_version),
        ("torch", &m.torch_version),
    ] {
        if !v.is_empty() {
            let _ = writeln!(o, "  {k:<10} {v}");
        }
    }
    for (k, v) in &m.extra {
        let _ = writeln!(o, "  {k:<10} {v}");
    }
}

fn spec(v: &ValueSpec) -> String {
    let dims: Vec<String> = v
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    format!("{}: {}[{}]", v.name, v.dtype.name(), dims.join(", "))
}

fn signature(o: &mut String, g: &Graph) {
    let _ = writeln!(o, "\nsignature");
    for (i, v) in g.signature.inputs.iter().enumerate() {
        // A scalar input (format 1.1) is stored as a 0-d tensor of its kind's dtype; show it
        // as the int/float/bool it is, with its default.
        match g.scalar_inputs.iter().find(|s| s.input as usize == i) {
            Some(s) => {
                let default = match &s.default {
                    Some(Scalar::Int(x)) => format!(" = {x}"),
                    Some(Scalar::Float(x)) => format!(" = {x}"),
                    Some(Scalar::Bool(x)) => format!(" = {x}"),
                    None => String::new(),
                };
                let fixed = if s.fixed { " (fixed)" } else { "" };
                let _ = writeln!(
                    o,
                    "  input   {}: {} scalar{default}{fixed}",
                    v.name,
                    s.kind.name()
                );
            }
            None => {
                let _ = writeln!(o, "  input   {}", spec(v));
            }
        }
    }
    for v in &g.signature.outputs {
        let _ = writeln!(o, "  output  {}", spec(v));
    }
}

fn ops(o: &mut String, g: &Graph) {
    let mut calls = vec![0u64; g.ops.len()];
    for f in &g.functions {
        for i in &f.code {
            if let Instr::CallOp { op, .. } = i {
                if let Some(c) = calls.get_mut(*op as usize) {
                    *c += 1;
                }
            }
        }
    }
    let _ = writeln!(o, "\nops ({})", g.ops.len());
    for (i, (name, n)) in g.ops.iter().zip(&calls).enumerate() {
        let _ = writeln!(o, "  [{i:>3}] {name:<40} calls {n}");
    }
}

fn functions(o: &mut String, g: &Graph) {
    let _ = writeln!(
        o,
        "\nfunctions ({}), constants ({})",
        g.functions.len(),
        g.constants.len()
    );
    for (i, f) in g.functions.iter().enumerate() {
        let _ = writeln!(
            o,
            "  [{i:>3}] {:<20} {} registers, {} params, {} instructions",
            f.name,
            f.num_registers,
            f.params.len(),
            f.code.len()
        );
    }
}

fn tensors(o: &mut String, g: &Graph) {
    // (logical dtype, stored dtype, quantized?) -> (count, stored bytes)
    let mut by: BTreeMap<(String, String, &str), (u64, u64)> = BTreeMap::new();
    for t in &g.tensors {
        let q = match t.quantization {
            Quantization::None => "",
            Quantization::PerTensor { .. } => " per-tensor",
            Quantization::PerChannel { .. } => " per-channel",
            Quantization::GroupInt4 { offsets: true, .. } => " int4 groups (scale, offset)",
            Quantization::GroupInt4 { offsets: false, .. } => " int4 groups (scale)",
            Quantization::GroupInt8 { .. } => " int8 groups (scale)",
        };
        let e = by
            .entry((t.dtype.name().into(), t.stored_dtype.name().into(), q))
            .or_default();
        e.0 += 1;
        e.1 += t.nbytes;
    }
    let total: u64 = g.tensors.iter().map(|t| t.nbytes).sum();
    let _ = writeln!(o, "\ntensors ({}, {})", g.tensors.len(), human(total));
    for ((d, s, q), (n, b)) in by {
        let stored = if d == s && q.is_empty() {
            String::new()
        } else {
            format!(" stored as {s}{q}")
        };
        let _ = writeln!(
            o,
            "  {:<28} {n:>6} tensors  {}",
            format!("{d}{stored}"),
            human(b)
        );
    }
}

fn chunks(o: &mut String, g: &Graph) {
    let stored: u64 = g.chunks.iter().map(|c| c.stored_len).sum();
    let decoded: u64 = g.chunks.iter().map(|c| c.decoded_len).sum();
    let _ = writeln!(
        o,
        "\nchunks ({}): {} in the file, {} decoded, arena {}",
        g.chunks.len(),
        human(stored),
        human(decoded),
        human(g.arena_size)
    );
    for (i, c) in g.chunks.iter().enumerate() {
        let ratio = if c.stored_len == 0 {
            1.0
        } else {
            c.decoded_len as f64 / c.stored_len as f64
        };
        let _ = writeln!(
            o,
            "  [{i:>4}] {:<6} file {:>10}+{:<10} decoded {:>10}  ratio {ratio:>5.2}  crc {:08x}",
            format!("{:?}", c.codec).to_lowercase(),
            c.file_offset,
            c.stored_len,
            c.decoded_len,
            c.crc32
        );
    }
}
