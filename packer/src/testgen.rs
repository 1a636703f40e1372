//! A deterministic generator of *valid* models from arbitrary bytes, for property tests and
//! fuzzing: every index it emits is in range, so `pack` must accept the result and the
//! parsers must return it unchanged. Bytes past the end of the input read as zero.

pub mod program;

use crate::ir::{ModelIr, WeightEncoding, WeightIr};
use wasm_torch_format::{
    Asset, ConstValue, DType, Dim, Function, InlineTensor, Instr, Metadata, Operand, Scalar,
    ScalarInput, ScalarKind, Signature, ValueSpec,
};

/// Reads small numbers from a byte string.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    /// The next byte (0 once exhausted).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let v = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        v % n
    }

    /// An arbitrary u64.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }

    /// A short string (possibly non-ASCII).
    pub fn string(&mut self) -> String {
        const POOL: [&str; 8] = [
            "",
            "x",
            "weight",
            "aten::add.Tensor",
            "batch",
            "é",
            "名前",
            "a b",
        ];
        let mut s = POOL[self.below(POOL.len())].to_string();
        for _ in 0..self.below(3) {
            s.push(char::from(b'a' + (self.byte() % 26)));
        }
        s
    }

    /// A finite float (NaN would defeat equality checks).
    pub fn float(&mut self) -> f64 {
        let v = f64::from_bits(self.u64());
        if v.is_finite() {
            v
        } else {
            self.byte() as f64 - 128.0
        }
    }
}

fn dtype(b: &mut Bytes<'_>) -> DType {
    DType::ALL[b.below(DType::ALL.len())]
}

fn shape(b: &mut Bytes<'_>, max_rank: usize) -> Vec<u64> {
    (0..b.below(max_rank + 1))
        .map(|_| b.below(5) as u64)
        .collect()
}

fn constant(b: &mut Bytes<'_>, depth: u32) -> ConstValue {
    match b.below(9) {
        0 => ConstValue::None,
        1 => ConstValue::Bool(b.byte() & 1 == 1),
        2 => ConstValue::Int(b.u64() as i64),
        3 => ConstValue::Float(b.float()),
        4 => ConstValue::Str(b.string()),
        5 => ConstValue::Ints((0..b.below(5)).map(|_| b.u64() as i64).collect()),
        6 => ConstValue::Floats((0..b.below(5)).map(|_| b.float()).collect()),
        7 if depth < 3 => {
            ConstValue::List((0..b.below(4)).map(|_| constant(b, depth + 1)).collect())
        }
        7 => ConstValue::None,
        _ => {
            let dt = dtype(b);
            let shp = shape(b, 3);
            let n = shp.iter().product::<u64>() as usize * dt.size();
            let data = (0..n).map(|_| b.byte()).collect();
            ConstValue::Tensor(InlineTensor {
                dtype: dt,
                shape: shp,
                data,
            })
        }
    }
}

fn value_spec(b: &mut Bytes<'_>) -> ValueSpec {
    ValueSpec {
        name: b.string(),
        dtype: dtype(b),
        shape: (0..b.below(4))
            .map(|_| {
                if b.byte() & 1 == 0 {
                    Dim::Fixed(b.u64() >> b.below(64))
                } else {
                    Dim::Symbolic(b.string())
                }
            })
            .collect(),
    }
}

fn weight(b: &mut Bytes<'_>, i: usize) -> WeightIr {
    let dt = dtype(b);
    let shp = shape(b, 3);
    let numel = shp.iter().product::<u64>() as usize;
    let encoding = if dt == DType::F32 {
        match b.below(4) {
            0 => WeightEncoding::AsIs,
            1 => WeightEncoding::F16,
            2 => WeightEncoding::Int8PerTensor,
            _ if !shp.is_empty() => {
                let axis = b.below(shp.len()) as u32;
                let last = shp[shp.len() - 1];
                // Rows of whole groups of 32: sometimes group-wise int4 instead ...
                if last > 0 && last % 32 == 0 && axis == 0 {
                    WeightEncoding::Int4 {
                        group: 32,
                        offsets: shp.len() % 2 == 1,
                    }
                } else if last > 0 && last % 32 == 0 && axis == 1 {
                    // ... or group-wise int8.
                    WeightEncoding::Int8Group { group: 32 }
                } else {
                    WeightEncoding::Int8PerChannel { axis }
                }
            }
            _ => WeightEncoding::AsIs,
        }
    } else {
        WeightEncoding::AsIs
    };
    // Repetitive data sometimes (so zstd pays), finite floats for f32.
    let repeat = b.byte() & 1 == 0;
    let data = if dt == DType::F32 {
        let mut v = Vec::with_capacity(numel * 4);
        let mut x = 0f32;
        for _ in 0..numel {
            if !repeat {
                x = (b.byte() as i8) as f32 * 0.125;
            }
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    } else {
        let fill = b.byte();
        (0..numel * dt.size())
            .map(|_| if repeat { fill } else { b.byte() })
            .collect()
    };
    WeightIr {
        name: format!("w{i}.{}", b.string()),
        dtype: dt,
        shape: shp,
        data,
        encoding,
    }
}

/// Build a valid model from `data`.
pub fn model(data: &[u8]) -> ModelIr {
    let b = &mut Bytes::new(data);
    let metadata = Metadata {
        producer: b.string(),
        exporter_version: b.string(),
        torch_version: b.string(),
        model_name: b.string(),
        extra: (0..b.below(3)).map(|_| (b.string(), b.string())).collect(),
    };
    let signature = Signature {
        inputs: (0..b.below(3)).map(|_| value_spec(b)).collect(),
        outputs: (0..b.below(3)).map(|_| value_spec(b)).collect(),
    };
    let ops: Vec<String> = (0..b.below(4)).map(|_| b.string()).collect();
    let constants: Vec<ConstValue> = (0..b.below(6)).map(|_| constant(b, 0)).collect();
    let weights: Vec<WeightIr> = (0..b.below(5)).map(|i| weight(b, i)).collect();
    let nf = 1 + b.below(3);
    // Decide each function's interface first so calls can match it.
    let mut iface = Vec::with_capacity(nf);
    for f in 0..nf {
        let nparams = if f == 0 {
            signature.inputs.len()
        } else {
            b.below(3)
        };
        let arity = if f == 0 {
            signature.outputs.len()
        } else {
            b.below(3)
        };
        let nreg = (nparams + 1 + b.below(6)) as u32;
        iface.push((nparams, arity, nreg));
    }
    let mut functions = Vec::with_capacity(nf);
    for &(nparams, arity, nreg) in &iface {
        let ncode = 1 + b.below(7);
        let operand = |b: &mut Bytes<'_>| match b.below(3) {
            1 if !constants.is_empty() => Operand::Const(b.below(constants.len()) as u32),
            2 if !weights.is_empty() => Operand::Weight(b.below(weights.len()) as u32),
            _ => Operand::Reg(b.below(nreg as usize) as u32),
        };
        let operands = |b: &mut Bytes<'_>, n: usize| (0..n).map(|_| operand(b)).collect::<Vec<_>>();
        let regs = |b: &mut Bytes<'_>, n: usize| {
            (0..n)
                .map(|_| b.below(nreg as usize) as u32)
                .collect::<Vec<_>>()
        };
        let mut code = Vec::with_capacity(ncode);
        for _ in 0..ncode - 1 {
            let k = b.below(11);
            let ins = match k {
                0 if !ops.is_empty() => {
                    let (na, no) = (b.below(4), b.below(3));
                    Instr::CallOp {
                        op: b.below(ops.len()) as u32,
                        args: operands(b, na),
                        outputs: regs(b, no),
                    }
                }
                1 if !constants.is_empty() => Instr::LoadConst {
                    dst: b.below(nreg as usize) as u32,
                    index: b.below(constants.len()) as u32,
                },
                2 => Instr::Move {
                    dst: b.below(nreg as usize) as u32,
                    src: operand(b),
                },
                3 => {
                    let n = b.below(4);
                    Instr::BuildList {
                        dst: b.below(nreg as usize) as u32,
                        items: operands(b, n),
                    }
                }
                4 => {
                    let n = b.below(4);
                    Instr::BuildTuple {
                        dst: b.below(nreg as usize) as u32,
                        items: operands(b, n),
                    }
                }
                5 => {
                    let n = b.below(4);
                    Instr::Unpack {
                        src: operand(b),
                        dsts: regs(b, n),
                    }
                }
                6 => Instr::Jump {
                    target: b.below(ncode) as u32,
                },
                7 => Instr::JumpIf {
                    cond: operand(b),
                    target: b.below(ncode) as u32,
                },
                8 => Instr::JumpIfNot {
                    cond: operand(b),
                    target: b.below(ncode) as u32,
                },
                9 => {
                    let callee = b.below(nf);
                    let (cp, ca, _) = iface[callee];
                    Instr::CallFunction {
                        function: callee as u32,
                        args: operands(b, cp),
                        outputs: regs(b, ca),
                    }
                }
                _ => Instr::Return {
                    values: operands(b, arity),
                },
            };
            code.push(ins);
        }
        code.push(Instr::Return {
            values: operands(b, arity),
        });
        let register_names = if b.byte() & 1 == 0 {
            Vec::new()
        } else {
            (0..nreg).map(|_| b.string()).collect()
        };
        functions.push(Function {
            name: b.string(),
            num_registers: nreg,
            params: (0..nparams as u32).collect(),
            register_names,
            code,
        });
    }
    // Read last, so models from inputs that end earlier are unchanged (bytes past the end
    // read as zero: no scalar inputs).
    let mut signature = signature;
    let scalar_inputs = scalar_inputs(b, &mut signature);

    // Assets come last so the bytes that shape older corpus entries keep their meaning.
    // Names carry their index: unique and non-empty, as the format requires.
    let assets = (0..b.below(3))
        .map(|i| Asset {
            name: format!("{i}{}", b.string()),
            data: (0..b.below(40)).map(|_| b.byte()).collect(),
        })
        .collect();
    ModelIr {
        metadata,
        signature,
        ops,
        functions,
        constants,
        weights,
        states: vec![],
        scalar_inputs,

        assets,
    }
}

/// Turns some inputs into scalar inputs (format 1.1): one byte per input; `k % 4` = 0 keeps a
/// tensor, 1..=3 is the scalar kind code; bit 2 adds a default read from the next bytes, bit 3 makes it fixed.
fn scalar_inputs(b: &mut Bytes<'_>, signature: &mut Signature) -> Vec<ScalarInput> {
    let mut out = Vec::new();
    for (i, spec) in signature.inputs.iter_mut().enumerate() {
        let k = b.byte();
        let Some(kind) = ScalarKind::from_code(k % 4) else {
            continue;
        };
        spec.dtype = kind.dtype();
        spec.shape.clear();
        let default = (k & 4 != 0).then(|| {
            let v = u64::from_le_bytes(std::array::from_fn(|_| b.byte()));
            match kind {
                ScalarKind::Int => Scalar::Int(v as i64),
                ScalarKind::Float => Scalar::Float(f64::from_bits(v)),
                ScalarKind::Bool => Scalar::Bool(v & 1 == 1),
            }
        });
        out.push(ScalarInput {
            input: i as u32,
            kind,
            fixed: default.is_some() && k & 8 != 0,
            default,
        });
    }
    out
}
