//! A WASI preview1 guest that runs a `.wtb` model through the wasi-nn witx imports
//! (`wasi_ephemeral_nn`), as any wasi-nn application would: it knows nothing of wasm-torch.
//!
//! ```text
//! wasi-nn-guest <model.wtb> <input> [<input> ...] <output.f32>
//!               [--dims 2,4] [--encoding pytorch|autodetect] [--output-index N] [--top K]
//! ```
//! `<model.wtb>` may be `name:<graph>` for a graph the host registered (`load_by_name`).
//! Inputs are set in order (input 0, 1, ...). A `.npy` input (little-endian, C order) carries
//! its dimensions and type (`<f4` F32, `<i8` I64, `<i4` I32, `|u1`/`|b1` U8); any other file is
//! raw little-endian f32 with `--dims` (default `[1, n]`). The guest prints the top-K values of
//! the output read as f32 (`index value`) and writes the output's raw bytes to `<output.f32>`.
//! Any wasi-nn error is printed with its name and makes the guest exit with status 2 (bad
//! usage or I/O: 1).

use std::process::ExitCode;

use wasi_nn::{ExecutionTarget, GraphBuilder, GraphEncoding, TensorType};

struct Args {
    model: String,
    inputs: Vec<String>,
    output: String,
    dims: Option<Vec<usize>>,
    encoding: GraphEncoding,
    output_index: usize,
    top: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut pos = Vec::new();
    let mut a = Args {
        model: String::new(),
        inputs: Vec::new(),
        output: String::new(),
        dims: None,
        encoding: GraphEncoding::Pytorch,
        output_index: 0,
        top: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--dims" => {
                let v = value("--dims")?;
                let dims = v
                    .split(',')
                    .map(|d| {
                        d.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("--dims {v}: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                a.dims = Some(dims);
            }
            "--encoding" => {
                a.encoding = match value("--encoding")?.as_str() {
                    "pytorch" => GraphEncoding::Pytorch,
                    "autodetect" => GraphEncoding::Autodetec,
                    "onnx" => GraphEncoding::Onnx,
                    other => return Err(format!("unknown encoding '{other}'")),
                }
            }
            "--output-index" => {
                a.output_index = value("--output-index")?
                    .parse()
                    .map_err(|e| format!("--output-index: {e}"))?
            }
            "--top" => a.top = value("--top")?.parse().map_err(|e| format!("--top: {e}"))?,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => pos.push(arg),
        }
    }
    if pos.len() < 3 {
        return Err(format!(
            "expected <model.wtb> <input> [<input> ...] <output.f32>, got {} paths",
            pos.len()
        ));
    }
    a.output = pos.pop().unwrap_or_default();
    a.model = pos.remove(0);
    a.inputs = pos;
    Ok(a)
}

/// One input tensor: dimensions, wasi-nn type and little-endian bytes.
struct Input {
    dims: Vec<usize>,
    ty: TensorType,
    data: Vec<u8>,
}

/// A little-endian, C-order `.npy` file (format 1.0-3.0) as an input tensor.
fn read_npy(bytes: &[u8]) -> Result<Input, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (hlen, hstart): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!(".npy version {v} not supported")),
    };
    let header = bytes
        .get(hstart..hstart.saturating_add(hlen))
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "non-UTF-8 .npy header")?;
    let types = [
        ("'<f4'", TensorType::F32),
        ("'<i8'", TensorType::I64),
        ("'<i4'", TensorType::I32),
        ("'|u1'", TensorType::U8),
        ("'|b1'", TensorType::U8),
    ];
    let ty = types
        .iter()
        .find(|(d, _)| header.contains(&format!("'descr': {d}")))
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("unsupported .npy dtype (f4, i8, i4, u1, b1 only): {header}"))?;
    if header.contains("'fortran_order': True") {
        return Err("Fortran-order .npy is not supported".into());
    }
    let shape_start = header.find("'shape': (").ok_or("no shape in .npy header")? + 10;
    let shape_end = header[shape_start..]
        .find(')')
        .ok_or("bad shape in .npy header")?
        + shape_start;
    let dims = header[shape_start..shape_end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|e| format!("bad .npy dim '{s}': {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = bytes[hstart + hlen..].to_vec();
    let want = dims.iter().product::<usize>() * ty.byte_size();
    if data.len() != want {
        return Err(format!(
            ".npy data has {} bytes, shape {dims:?} needs {want}",
            data.len()
        ));
    }
    Ok(Input { dims, ty, data })
}

fn f32_values(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "{} bytes is not a whole number of f32 values",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn run(a: &Args) -> Result<(), wasi_nn::Error> {
    let mut inputs = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        let bytes = std::fs::read(path)?;
        inputs.push(if path.ends_with(".npy") {
            read_npy(&bytes).map_err(|e| usage(format!("{path}: {e}")))?
        } else {
            let n = f32_values(&bytes).map_err(usage)?.len();
            let dims = a.dims.clone().unwrap_or_else(|| vec![1, n]);
            Input {
                dims,
                ty: TensorType::F32,
                data: bytes,
            }
        });
    }
    let builder = GraphBuilder::new(a.encoding, ExecutionTarget::CPU);
    // `name:<graph>` asks the host for a graph it preloaded (wasi-nn `load_by_name`).
    let graph = match a.model.strip_prefix("name:") {
        Some(name) => builder.build_from_cache(name)?,
        None => builder.build_from_bytes([std::fs::read(&a.model)?])?,
    };
    let mut ctx = graph.init_execution_context()?;
    for (i, input) in inputs.iter().enumerate() {
        ctx.set_input(i, input.ty, &input.dims, &input.data)?;
    }
    ctx.compute()?;
    // The witx ABI cannot ask for an output's size: start small and grow on TooLarge.
    let mut out = vec![0f32; 1024];
    let written = loop {
        match ctx.get_output(a.output_index, &mut out) {
            Ok(n) => break n,
            // The crate keeps `BackendError` private; its Debug name is the variant's.
            Err(wasi_nn::Error::BackendError(ref e))
                if format!("{e:?}") == "TooLarge" && out.len() < (1 << 28) =>
            {
                let grown = out.len() * 8;
                out.resize(grown, 0.0);
            }
            Err(e) => return Err(e),
        }
    };
    let bytes: Vec<u8> = out
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .take(written)
        .collect();
    std::fs::write(&a.output, bytes)?;
    out.truncate(written / 4);
    println!(
        "output {}: {} values ({written} bytes)",
        a.output_index,
        out.len()
    );
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&i, &j| out[j].total_cmp(&out[i]));
    for &i in order.iter().take(a.top) {
        println!("{i} {}", out[i]);
    }
    Ok(())
}

fn usage(msg: String) -> wasi_nn::Error {
    wasi_nn::Error::IoError(std::io::Error::new(std::io::ErrorKind::InvalidInput, msg))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("usage error: {e}");
            return ExitCode::from(1);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(wasi_nn::Error::BackendError(e)) => {
            eprintln!("wasi-nn error: {e:?}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
