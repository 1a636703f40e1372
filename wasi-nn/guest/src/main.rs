//! A WASI preview1 guest that runs a `.wtb` model through the wasi-nn witx imports
//! (`wasi_ephemeral_nn`), as any wasi-nn application would: it knows nothing of wasm-torch.
//!
//! ```text
//! wasi-nn-guest <model.wtb> <input.f32|input.npy> <output.f32>
//!               [--dims 2,4] [--encoding pytorch|autodetect] [--output-index N] [--top K]
//! ```
//! The input is f32: a `.npy` file (its header gives the dimensions) or raw little-endian f32
//! with `--dims`. The guest prints the top-K output values (`index value`) and writes the whole
//! output as raw f32 to `<output.f32>`. Any wasi-nn error is printed with its name and makes
//! the guest exit with status 2 (bad usage: 1).

use std::process::ExitCode;

use wasi_nn::{ExecutionTarget, GraphBuilder, GraphEncoding, TensorType};

struct Args {
    model: String,
    input: String,
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
        input: String::new(),
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
    let [model, input, output]: [String; 3] = pos.try_into().map_err(|p: Vec<String>| {
        format!(
            "expected <model.wtb> <input> <output.f32>, got {} paths",
            p.len()
        )
    })?;
    a.model = model;
    a.input = input;
    a.output = output;
    Ok(a)
}

/// Dimensions and f32 values of a little-endian f32 `.npy` file (format 1.0/2.0, C order).
fn read_npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
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
    if !header.contains("'descr': '<f4'") {
        return Err(format!(
            "only little-endian f32 .npy is supported, header: {header}"
        ));
    }
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
    Ok((dims, f32_values(&bytes[hstart + hlen..])?))
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
    let model = std::fs::read(&a.model)?;
    let input_bytes = std::fs::read(&a.input)?;
    let (dims, input) = if a.input.ends_with(".npy") {
        read_npy(&input_bytes).map_err(usage)?
    } else {
        let values = f32_values(&input_bytes).map_err(usage)?;
        let dims = a.dims.clone().unwrap_or_else(|| vec![1, values.len()]);
        (dims, values)
    };
    let graph = GraphBuilder::new(a.encoding, ExecutionTarget::CPU).build_from_bytes([&model])?;
    let mut ctx = graph.init_execution_context()?;
    ctx.set_input(0, TensorType::F32, &dims, &input)?;
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
    out.truncate(written / 4);
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&a.output, bytes)?;
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
