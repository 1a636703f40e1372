//! [`ModelBuilder`]: a [`ModelIr`] written as calls, one instruction at a time.

use wasm_torch_format::{
    ConstValue, DType, Dim, Function, Instr, Metadata, Operand, Reg, Scalar, ScalarInput,
    ScalarKind, ValueSpec,
};
use wasm_torch_packer::{ModelIr, PackOptions, WeightIr};

/// A fixed dimension.
pub fn fixed(n: u64) -> Dim {
    Dim::Fixed(n)
}

/// A symbolic dimension (bound at run time, e.g. `batch`).
pub fn sym(name: &str) -> Dim {
    Dim::Symbolic(name.into())
}

/// A signature entry.
pub fn spec(name: &str, dtype: DType, shape: Vec<Dim>) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype,
        shape,
    }
}

/// Builds a model whose entry function `forward` takes the declared inputs as parameters,
/// in order, and returns the declared outputs, in order.
///
/// Registers, op-table entries (one per distinct name, in first-use order), constant-pool
/// and weight indices are allocated as the calls come; the returned [`Operand`]s are what
/// later instructions take. Fields the builder has no call for keep their `Default`, so a
/// new `ModelIr` field does not touch any test that does not use it.
///
/// Register names are written only after [`ModelBuilder::name_registers`]: then inputs are
/// named after their signature entry, [`ModelBuilder::call_named`] results after the name
/// given, and every other register is "" (unnamed).
#[derive(Debug)]
pub struct ModelBuilder {
    ir: ModelIr,
    params: Vec<Reg>,
    code: Vec<Instr>,
    names: Vec<String>,
    name_registers: bool,
    returns: Vec<Operand>,
}

impl ModelBuilder {
    /// An empty model called `model_name`, produced by "wasm-torch-test-support".
    pub fn new(model_name: &str) -> Self {
        ModelBuilder {
            ir: ModelIr {
                metadata: Metadata {
                    producer: "wasm-torch-test-support".into(),
                    model_name: model_name.into(),
                    ..Metadata::default()
                },
                ..ModelIr::default()
            },
            params: Vec::new(),
            code: Vec::new(),
            names: Vec::new(),
            name_registers: false,
            returns: Vec::new(),
        }
    }

    /// Sets the metadata's producer.
    pub fn producer(mut self, producer: &str) -> Self {
        self.ir.metadata.producer = producer.into();
        self
    }

    /// Writes register names into the entry function (see the type's docs).
    pub fn name_registers(mut self) -> Self {
        self.name_registers = true;
        self
    }

    /// The metadata, to set the remaining fields (`extra`, versions).
    pub fn metadata(&mut self) -> &mut Metadata {
        &mut self.ir.metadata
    }

    /// A fresh register of the entry function, named `name` ("" for none).
    pub fn register(&mut self, name: &str) -> Reg {
        self.names.push(name.into());
        (self.names.len() - 1) as Reg
    }

    /// Declares the next input; it arrives in a fresh parameter register, returned.
    pub fn input(&mut self, name: &str, dtype: DType, shape: Vec<Dim>) -> Operand {
        let r = self.register(name);
        self.params.push(r);
        self.ir.signature.inputs.push(spec(name, dtype, shape));
        Operand::Reg(r)
    }

    /// Declares the next input as a scalar of `kind` (a rank-0 signature entry of the kind's
    /// dtype), with an optional default; it arrives as a plain int/float/bool value.
    pub fn scalar_input(
        &mut self,
        name: &str,
        kind: ScalarKind,
        default: Option<Scalar>,
    ) -> Operand {
        let index = self.ir.signature.inputs.len() as u32;
        let r = self.input(name, kind.dtype(), vec![]);
        self.ir.scalar_inputs.push(ScalarInput {
            input: index,
            kind,
            default,
            fixed: false,
        });
        r
    }

    /// Declares the next output, `value`.
    pub fn output(&mut self, name: &str, dtype: DType, shape: Vec<Dim>, value: Operand) {
        self.ir.signature.outputs.push(spec(name, dtype, shape));
        self.returns.push(value);
    }

    /// Appends a weight to the tensor table.
    pub fn weight(&mut self, w: WeightIr) -> Operand {
        self.ir.weights.push(w);
        Operand::Weight(self.ir.weights.len() as u32 - 1)
    }

    /// Appends an f32 weight stored as is.
    pub fn weight_f32(&mut self, name: &str, shape: &[u64], values: &[f32]) -> Operand {
        self.weight(crate::f32_weight(name, shape, values))
    }

    /// Appends a constant to the pool (no deduplication: each call is a new entry).
    pub fn constant(&mut self, c: ConstValue) -> Operand {
        self.ir.constants.push(c);
        Operand::Const(self.ir.constants.len() as u32 - 1)
    }

    /// The op-table index of `name`, added on first use.
    pub fn op(&mut self, name: &str) -> u32 {
        match self.ir.ops.iter().position(|o| o == name) {
            Some(i) => i as u32,
            None => {
                self.ir.ops.push(name.into());
                self.ir.ops.len() as u32 - 1
            }
        }
    }

    /// Calls op `name` with `args`; its one result goes to a fresh register, returned.
    pub fn call(&mut self, name: &str, args: &[Operand]) -> Operand {
        self.call_named("", name, args)
    }

    /// [`ModelBuilder::call`] with the result register named `reg_name`.
    pub fn call_named(&mut self, reg_name: &str, name: &str, args: &[Operand]) -> Operand {
        let out = self.register(reg_name);
        self.call_into(name, args, &[out]);
        Operand::Reg(out)
    }

    /// Calls op `name` with `args` and `n` results, each in a fresh register.
    pub fn call_n(&mut self, name: &str, args: &[Operand], n: usize) -> Vec<Operand> {
        let outs: Vec<Reg> = (0..n).map(|_| self.register("")).collect();
        self.call_into(name, args, &outs);
        outs.into_iter().map(Operand::Reg).collect()
    }

    /// Calls op `name` with `args`, writing its results to the given registers (for code
    /// that reassigns a register, such as a loop variable).
    pub fn call_into(&mut self, name: &str, args: &[Operand], outputs: &[Reg]) {
        let op = self.op(name);
        self.push(Instr::CallOp {
            op,
            args: args.to_vec(),
            outputs: outputs.to_vec(),
        });
    }

    /// Appends any instruction (control flow, moves, lists) to the entry function; returns
    /// its index, the jump target that reaches it.
    pub fn push(&mut self, instr: Instr) -> u32 {
        self.code.push(instr);
        self.code.len() as u32 - 1
    }

    /// The index the next instruction will have (a forward jump's target, once known).
    pub fn next_index(&self) -> u32 {
        self.code.len() as u32
    }

    /// Replaces instruction `at` (to patch a forward jump once its target is known).
    pub fn patch(&mut self, at: u32, instr: Instr) {
        self.code[at as usize] = instr;
    }

    /// Adds a further function (index 1, 2, … in order; the entry is 0), for
    /// `Instr::CallFunction`.
    pub fn function(&mut self, f: Function) -> u32 {
        self.ir.functions.push(f);
        self.ir.functions.len() as u32
    }

    /// The model: `forward` (its code followed by the return of the outputs) and the
    /// functions added with [`ModelBuilder::function`].
    pub fn build(mut self) -> ModelIr {
        let mut code = std::mem::take(&mut self.code);
        code.push(Instr::Return {
            values: std::mem::take(&mut self.returns),
        });
        let forward = Function {
            name: "forward".into(),
            num_registers: self.names.len() as u32,
            params: self.params,
            register_names: if self.name_registers {
                self.names
            } else {
                Vec::new()
            },
            code,
        };
        self.ir.functions.insert(0, forward);
        self.ir
    }

    /// The built model packed with the default options; panics (test code) on failure.
    pub fn pack(self) -> Vec<u8> {
        self.pack_with(&PackOptions::default())
    }

    /// The built model packed with `opts`; panics (test code) on failure.
    pub fn pack_with(self, opts: &PackOptions) -> Vec<u8> {
        wasm_torch_packer::pack(&self.build(), opts).expect("the test model packs")
    }
}
