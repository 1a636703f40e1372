//! The bytecode loop: straight-line ops, control flow (jumps, calls, returns) and the memory
//! plan's register drops, with optional profiling and tracing hooks.

use std::collections::HashSet;

use wasm_torch_format::model::{Instr, Operand};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ops::fft::ComplexCall;
use crate::ops::OpCtx;
use crate::planner::FunctionPlan;
use crate::profile::Profile;
use crate::program::Program;
use crate::tensor::Tensor;
use crate::value::Value;

/// Deepest `CallFunction` nesting before the run is aborted (guards the native stack).
pub const MAX_CALL_DEPTH: usize = 64;

/// The weight tensors a run reads: the program's own, or — for a run that starts while the
/// weights stream in — those that arrived so far (`None`: not yet).
#[derive(Clone, Copy)]
pub(crate) enum WeightTable<'a> {
    /// Every weight, in tensor-table order.
    All(&'a [Tensor]),
    /// The weights built so far, in tensor-table order.
    Arrived(&'a [Option<Tensor>]),
}

/// Where the bytecode loop goes after one instruction.
pub(crate) enum Flow {
    /// Continue at this instruction.
    Next(usize),
    /// The function returned these values.
    Return(Vec<Value>),
}

/// Mutable state one run threads through every frame.
pub(crate) struct Exec<'a> {
    pub program: &'a Program,
    pub weights: WeightTable<'a>,
    pub plans: &'a [FunctionPlan],
    pub ctx: &'a mut OpCtx,
    pub profile: Option<&'a mut Profile>,
    pub clock: Option<&'a dyn Clock>,
    pub trace: Option<&'a mut Vec<(String, Tensor)>>,
    /// Instructions executed so far; the run fails once it exceeds `step_limit`.
    pub steps: u64,
    pub step_limit: u64,
    /// Bytes held by the frames of callers (for actual-peak accounting).
    pub outer_bytes: u64,
    /// The session's state tensors (`Operand::State`), updated in place by in-place ops.
    pub states: &'a mut [Tensor],
    /// Scratch set of storage ids for the profiler's byte accounting.
    pub seen: HashSet<usize>,
}

/// True for an in-place ATen op name (`aten::index_copy_.default`): base name ends in `_`.
pub(crate) fn is_inplace_op(name: &str) -> bool {
    let base = name.rsplit_once('.').map_or(name, |(b, _)| b);
    base.ends_with('_') && !base.ends_with("__")
}

/// Bytes of distinct tensor storage reachable from `vals`; `seen` is scratch space the caller
/// keeps between calls (cleared here) so the per-instruction accounting does not allocate.
fn tensor_bytes<'v>(vals: impl Iterator<Item = &'v Value>, seen: &mut HashSet<usize>) -> u64 {
    fn walk(v: &Value, seen: &mut HashSet<usize>, total: &mut u64) {
        match v {
            Value::Tensor(t) if seen.insert(t.storage_id()) => {
                *total += t.owned_bytes() as u64;
            }
            Value::List(items) | Value::Tuple(items) => {
                for i in items {
                    walk(i, seen, total);
                }
            }
            _ => {}
        }
    }
    seen.clear();
    let mut total = 0;
    for v in vals {
        walk(v, seen, &mut total);
    }
    total
}

impl Exec<'_> {
    fn fetch(&self, regs: &[Value], o: &Operand) -> Result<Value> {
        Ok(match o {
            Operand::Reg(r) => regs[*r as usize].clone(),
            Operand::Const(c) => self.program.constants[*c as usize].clone(),
            Operand::Weight(w) => Value::Tensor(match self.weights {
                WeightTable::All(ws) => ws[*w as usize].clone(),
                // The run-while-loading driver executes an instruction only once every
                // weight it reads arrived; reaching this is a bug there, not a bad file.
                WeightTable::Arrived(ws) => ws[*w as usize].clone().ok_or_else(|| {
                    Error::runtime(format!("internal: weight {w} read before it arrived"))
                })?,
            }),
            Operand::State(k) => Value::Tensor(self.states[*k as usize].clone()),
        })
    }

    /// Store the result of an in-place op on state `k` back into the session, after checking
    /// that it kept the state's dtype and shape.
    fn store_state(&mut self, k: usize, v: &Value) -> Result<()> {
        let spec = &self.program.graph.states[k];
        let t = v.as_tensor()?;
        let same_shape = t.shape().len() == spec.shape.len()
            && t.shape()
                .iter()
                .zip(&spec.shape)
                .all(|(&a, &b)| a as u64 == b);
        if t.dtype() != spec.dtype || !same_shape {
            return Err(Error::runtime(format!(
                "the write to state '{}' produced {} {:?}, the state is {} {:?}",
                spec.name,
                t.dtype().name(),
                t.shape(),
                spec.dtype.name(),
                spec.shape
            )));
        }
        self.states[k] = t.clone();
        Ok(())
    }

    fn fetch_all(&self, regs: &[Value], ops: &[Operand]) -> Result<Vec<Value>> {
        ops.iter().map(|o| self.fetch(regs, o)).collect()
    }

    fn trace_name(&self, fidx: usize, r: u32) -> String {
        let f = &self.program.graph.functions[fidx];
        match f.register_names.get(r as usize) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("{}.%{r}", f.name),
        }
    }

    fn account(&mut self, regs: &[Value], plan: &FunctionPlan, pc: usize) {
        if let Some(p) = self.profile.as_deref_mut() {
            let t0 = self.clock.map(|c| c.now_ns());
            let actual = self.outer_bytes + tensor_bytes(regs.iter(), &mut self.seen);
            let planned = self.outer_bytes
                + tensor_bytes(
                    plan.live_out[pc].iter().map(|r| &regs[r as usize]),
                    &mut self.seen,
                );
            p.actual_peak_bytes = p.actual_peak_bytes.max(actual);
            p.planned_peak_bytes = p.planned_peak_bytes.max(planned);
            if let (Some(c), Some(t0)) = (self.clock, t0) {
                p.bookkeeping_ns += c.now_ns().saturating_sub(t0);
            }
        }
    }

    /// Run function `fidx` with `args` bound to its parameters.
    pub fn run_function(
        &mut self,
        fidx: usize,
        args: Vec<Value>,
        depth: usize,
    ) -> Result<Vec<Value>> {
        if depth > MAX_CALL_DEPTH {
            return Err(Error::runtime(format!(
                "call depth exceeds {MAX_CALL_DEPTH} (runaway recursion?)"
            )));
        }
        let mut regs = self.enter(fidx, args)?;
        let mut pc = 0usize;
        loop {
            match self.step(fidx, &mut regs, pc, depth)? {
                Flow::Next(next) => pc = next,
                Flow::Return(values) => return Ok(values),
            }
        }
    }

    /// The registers of a new frame of function `fidx`, its parameters bound to `args`.
    pub fn enter(&mut self, fidx: usize, args: Vec<Value>) -> Result<Vec<Value>> {
        let f = &self.program.graph.functions[fidx];
        let plan = &self.plans[fidx];
        let mut regs: Vec<Value> = vec![Value::None; f.num_registers as usize];
        if args.len() != f.params.len() {
            return Err(Error::runtime(format!(
                "function '{}' takes {} arguments, got {}",
                f.name,
                f.params.len(),
                args.len()
            )));
        }
        for (&p, a) in f.params.iter().zip(args) {
            regs[p as usize] = a;
        }
        for &r in &plan.drop_on_entry {
            regs[r as usize] = Value::None;
        }
        Ok(regs)
    }

    /// Execute instruction `pc` of function `fidx` on the frame `regs` (calls made from it
    /// run to completion at `depth + 1`).
    pub fn step(
        &mut self,
        fidx: usize,
        regs: &mut [Value],
        pc: usize,
        depth: usize,
    ) -> Result<Flow> {
        let program = self.program;
        let f = &program.graph.functions[fidx];
        let plan = &self.plans[fidx];
        let mut pc = pc;
        {
            self.steps += 1;
            if self.steps > self.step_limit {
                return Err(Error::runtime(format!(
                    "step limit of {} instructions exceeded (infinite loop?)",
                    self.step_limit
                )));
            }
            let ins = f.code.get(pc).ok_or_else(|| {
                Error::runtime(format!("fell off the end of function '{}'", f.name))
            })?;
            match ins {
                Instr::CallOp { op, args, outputs } => {
                    let opi = *op as usize;
                    // Move operands whose register dies here (and appears once) into the op.
                    let mut argv = Vec::with_capacity(args.len());
                    for (i, a) in args.iter().enumerate() {
                        match a {
                            Operand::Reg(r)
                                if plan.dies_at(pc, *r)
                                    && !args[i + 1..].contains(a)
                                    && !args[..i].contains(a) =>
                            {
                                argv.push(std::mem::take(&mut regs[*r as usize]));
                            }
                            _ => argv.push(self.fetch(regs, a)?),
                        }
                    }
                    // An in-place op on a state gets the session's tensor itself (moved, so it
                    // is the only reference and the op can write into it) and hands it back.
                    let state_dst = match args.first() {
                        Some(Operand::State(k)) if is_inplace_op(&program.graph.ops[opi]) => {
                            let k = *k as usize;
                            argv[0] = Value::Tensor(std::mem::replace(
                                &mut self.states[k],
                                Tensor::from_f32(vec![0], vec![]),
                            ));
                            Some(k)
                        }
                        _ => None,
                    };
                    let t0 = self.clock.map(|c| c.now_ns());
                    let op_fn = match program.complex[opi] {
                        ComplexCall::Same => program.ops[opi],
                        _ if !argv.iter().any(has_complex) => program.ops[opi],
                        ComplexCall::Variant(f) => f,
                        ComplexCall::Refuse => {
                            return Err(Error::runtime(format!(
                                "{} does not support complex (c64) tensors \
                                 (function '{}', instruction {pc})",
                                program.graph.ops[opi], f.name
                            )))
                        }
                    };
                    let result = op_fn(self.ctx, argv).map_err(|e| {
                        e.context(format!(
                            "{} (function '{}', instruction {pc})",
                            program.graph.ops[opi], f.name
                        ))
                    })?;
                    if let Some(p) = self.profile.as_deref_mut() {
                        let entry = &mut p.ops[opi];
                        entry.calls += 1;
                        if let (Some(c), Some(t0)) = (self.clock, t0) {
                            entry.total_ns += c.now_ns().saturating_sub(t0);
                        }
                    }
                    if result.len() != outputs.len() {
                        return Err(Error::runtime(format!(
                            "{} returned {} values but instruction {pc} of '{}' expects {}",
                            program.graph.ops[opi],
                            result.len(),
                            f.name,
                            outputs.len()
                        )));
                    }
                    if let Some(k) = state_dst {
                        let v = result.first().ok_or_else(|| {
                            Error::runtime(format!(
                                "{} returned nothing for state '{}'",
                                program.graph.ops[opi], program.graph.states[k].name
                            ))
                        })?;
                        self.store_state(k, v)?;
                    }
                    for (&o, v) in outputs.iter().zip(result) {
                        regs[o as usize] = v;
                    }
                    if self.trace.is_some() {
                        for &o in outputs {
                            if let Value::Tensor(t) = &regs[o as usize] {
                                let name = self.trace_name(fidx, o);
                                if let Some(tr) = self.trace.as_deref_mut() {
                                    tr.push((name, t.clone()));
                                }
                            }
                        }
                    }
                    self.account(regs, plan, pc);
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::LoadConst { dst, index } => {
                    regs[*dst as usize] = program.constants[*index as usize].clone();
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::Move { dst, src } => {
                    regs[*dst as usize] = self.fetch(regs, src)?;
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::BuildList { dst, items } => {
                    regs[*dst as usize] = Value::List(self.fetch_all(regs, items)?);
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::BuildTuple { dst, items } => {
                    regs[*dst as usize] = Value::Tuple(self.fetch_all(regs, items)?);
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::Unpack { src, dsts } => {
                    let v = self.fetch(regs, src)?;
                    let items = match v {
                        Value::List(items) | Value::Tuple(items) => items,
                        other => {
                            return Err(Error::runtime(format!(
                                "instruction {pc} of '{}' unpacks a {}",
                                f.name,
                                other.type_name()
                            )))
                        }
                    };
                    if items.len() != dsts.len() {
                        return Err(Error::runtime(format!(
                            "instruction {pc} of '{}' unpacks {} values into {} registers",
                            f.name,
                            items.len(),
                            dsts.len()
                        )));
                    }
                    for (&d, v) in dsts.iter().zip(items) {
                        regs[d as usize] = v;
                    }
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::Jump { target } => {
                    self.drop_regs(regs, &plan.drop_taken[pc]);
                    pc = *target as usize;
                }
                Instr::JumpIf { cond, target } | Instr::JumpIfNot { cond, target } => {
                    let c = self.fetch(regs, cond)?.as_bool().map_err(|e| {
                        e.context(format!(
                            "branch condition at instruction {pc} of '{}'",
                            f.name
                        ))
                    })?;
                    let take = c == matches!(ins, Instr::JumpIf { .. });
                    if take {
                        self.drop_regs(regs, &plan.drop_taken[pc]);
                        pc = *target as usize;
                    } else {
                        self.drop_regs(regs, &plan.drop_fall[pc]);
                        pc += 1;
                    }
                }
                Instr::CallFunction {
                    function,
                    args,
                    outputs,
                } => {
                    let argv = self.fetch_all(regs, args)?;
                    let saved = self.outer_bytes;
                    if self.profile.is_some() {
                        self.outer_bytes += tensor_bytes(regs.iter(), &mut self.seen);
                    }
                    let result = self.run_function(*function as usize, argv, depth + 1);
                    self.outer_bytes = saved;
                    let result = result?;
                    if result.len() != outputs.len() {
                        return Err(Error::runtime(format!(
                            "function {function} returned {} values, caller expects {}",
                            result.len(),
                            outputs.len()
                        )));
                    }
                    for (&o, v) in outputs.iter().zip(result) {
                        regs[o as usize] = v;
                    }
                    self.drop_regs(regs, &plan.drop_after[pc]);
                    pc += 1;
                }
                Instr::Return { values } => {
                    return Ok(Flow::Return(self.fetch_all(regs, values)?));
                }
            }
        }
        Ok(Flow::Next(pc))
    }

    fn drop_regs(&mut self, regs: &mut [Value], which: &[u32]) {
        for &r in which {
            regs[r as usize] = Value::None;
        }
    }
}

/// True when `v` is or holds a complex tensor (the executor's complex dispatch, `ops::fft`).
fn has_complex(v: &Value) -> bool {
    match v {
        Value::Tensor(t) => t.dtype().is_complex(),
        Value::List(items) | Value::Tuple(items) => items.iter().any(has_complex),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wasm_torch_format::model::{
        ConstValue, Dim, Function, Graph, Instr, Operand, Signature, ValueSpec,
    };

    use crate::program::{resolve_ops, Program};
    use crate::{DType, Session, Tensor};

    /// Random (index-valid) bytecode — loops, recursion, wrong arities, wrong types — must
    /// end in `Ok` or an error, never a panic or a hang.
    #[test]
    fn random_programs_never_panic() {
        let ops: Vec<String> = [
            "aten::add.Tensor",
            "aten::relu.default",
            "aten::lt.int",
            "aten::add.int",
            "aten::cat.default",
            "aten::view.default",
            "aten::sum.default",
            "aten::__getitem__.t",
            "aten::len.t",
            "aten::Int.Tensor",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let constants = vec![
            ConstValue::Int(0),
            ConstValue::Int(1),
            ConstValue::Float(2.5),
            ConstValue::None,
            ConstValue::Ints(vec![-1]),
            ConstValue::Bool(true),
        ];
        let mut seed: u64 = 0x1234_5678_9ABC_DEF1;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let nregs = 6u32;
        let (mut ran, mut succeeded) = (0, 0);
        for trial in 0..400 {
            let mut functions = Vec::new();
            for f in 0..2u32 {
                let len = 3 + rnd(10) as u32;
                let mut code = Vec::new();
                let operand = |rnd: &mut dyn FnMut(u64) -> u64| match rnd(3) {
                    0 => Operand::Reg(rnd(nregs as u64) as u32),
                    1 => Operand::Const(rnd(constants.len() as u64) as u32),
                    _ => Operand::Reg(0),
                };
                for pc in 0..len {
                    let ins = if pc == len - 1 {
                        Instr::Return {
                            values: vec![operand(&mut rnd)],
                        }
                    } else {
                        match rnd(9) {
                            0..=2 => Instr::CallOp {
                                op: rnd(ops.len() as u64) as u32,
                                args: (0..rnd(4)).map(|_| operand(&mut rnd)).collect(),
                                outputs: (0..rnd(3)).map(|_| rnd(nregs as u64) as u32).collect(),
                            },
                            3 => Instr::LoadConst {
                                dst: rnd(nregs as u64) as u32,
                                index: rnd(constants.len() as u64) as u32,
                            },
                            4 => Instr::Move {
                                dst: rnd(nregs as u64) as u32,
                                src: operand(&mut rnd),
                            },
                            5 => Instr::BuildList {
                                dst: rnd(nregs as u64) as u32,
                                items: (0..rnd(3)).map(|_| operand(&mut rnd)).collect(),
                            },
                            6 => Instr::Unpack {
                                src: operand(&mut rnd),
                                dsts: (0..rnd(3)).map(|_| rnd(nregs as u64) as u32).collect(),
                            },
                            7 => Instr::JumpIf {
                                cond: operand(&mut rnd),
                                target: rnd(len as u64) as u32,
                            },
                            _ => Instr::CallFunction {
                                function: rnd(2) as u32,
                                args: vec![operand(&mut rnd)],
                                outputs: vec![rnd(nregs as u64) as u32],
                            },
                        }
                    };
                    code.push(ins);
                }
                functions.push(Function {
                    name: format!("f{f}"),
                    num_registers: nregs,
                    params: vec![0],
                    register_names: vec![],
                    code,
                });
            }
            let graph = Graph {
                signature: Signature {
                    inputs: vec![ValueSpec {
                        name: "x".into(),
                        dtype: DType::F32,
                        shape: vec![Dim::Fixed(2)],
                    }],
                    outputs: vec![ValueSpec {
                        name: "y".into(),
                        dtype: DType::F32,
                        shape: vec![],
                    }],
                },
                ops: ops.clone(),
                functions,
                constants: constants.clone(),
                ..Graph::default()
            };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                wasm_torch_format::validate::validate_bytecode(&graph, &Default::default())
                    .unwrap();
                let resolved = resolve_ops(&graph).unwrap();
                let program =
                    Program::assemble(graph.clone(), resolved, &|_| unreachable!(), Vec::new())
                        .unwrap();
                let mut s = Session::new(Arc::new(program)).unwrap();
                s.set_step_limit(10_000);
                s.run_positional(vec![Tensor::from_f32(vec![2], vec![1.0, -2.0])])
                    .is_ok()
            }));
            match r {
                Ok(ok) => {
                    ran += 1;
                    succeeded += usize::from(ok);
                }
                Err(_) => panic!("trial {trial} panicked on {graph:#?}"),
            }
        }
        // every program validated and ran; the generator yields both successes and errors
        assert_eq!(ran, 400);
        assert!(
            succeeded > 0 && succeeded < ran,
            "{succeeded} of {ran} succeeded"
        );
    }
}
