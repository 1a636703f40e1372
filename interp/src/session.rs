//! [`Session`]: an executable instance of a [`Program`] — its memory plan, op scratch state,
//! profiling and tracing. Create one per concurrent user; they share the program.

use std::sync::Arc;

use crate::clock::{default_clock, Clock};
use crate::error::{Error, Result};
use crate::executor::{Exec, Flow, WeightTable};
use crate::inputs::{bind, describe_inputs, scalar_of};
use crate::ops::OpCtx;
use crate::planner::{plan_function, FunctionPlan};
use crate::profile::{OpProfile, Profile};
use crate::program::Program;
use crate::tensor::Tensor;
use crate::value::Value;

/// Default cap on executed instructions per run (guards against runaway loops).
pub const DEFAULT_STEP_LIMIT: u64 = 1 << 32;

/// An executable instance of a program.
pub struct Session {
    program: Arc<Program>,
    plans: Vec<FunctionPlan>,
    ctx: OpCtx,
    profile: Option<Profile>,
    clock: Option<Box<dyn Clock>>,
    trace: Option<Vec<(String, Tensor)>>,
    step_limit: u64,
    /// Session state (format 1.1): one tensor per `graph.states` entry, owned by this
    /// session, written in place by the graph and kept across runs.
    states: Vec<Tensor>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("program", &self.program)
            .finish()
    }
}

impl Session {
    /// Plan memory for every function of `program` and create the scratch state.
    pub fn new(program: Arc<Program>) -> Result<Session> {
        let plans = program.graph.functions.iter().map(plan_function).collect();
        let ctx = OpCtx {
            persistent: program
                .weights
                .iter()
                .filter(|w| w.is_contiguous())
                .map(|w| w.data_ptr())
                .collect(),
            ..OpCtx::default()
        };
        let states = initial_states(&program)?;
        Ok(Session {
            program,
            plans,
            ctx,
            profile: None,
            clock: default_clock(),
            trace: None,
            step_limit: DEFAULT_STEP_LIMIT,
            states,
        })
    }

    /// Put every state tensor back to its initial value from the file (zeros or a copy of
    /// its tensor-table entry): a new conversation on the same session.
    pub fn reset_state(&mut self) -> Result<()> {
        self.states = Vec::new(); // free the old buffers before allocating new ones
        self.states = initial_states(&self.program)?;
        Ok(())
    }

    /// The current state tensors, in state-section order (empty for stateless models).
    pub fn states(&self) -> &[Tensor] {
        &self.states
    }

    /// Bytes written and copied by in-place ops (state writes) since the session was made or
    /// the counters were last reset: a decode step of a KV-cache model writes one token's
    /// keys and values and copies nothing.
    pub fn write_stats(&self) -> crate::ops::inplace::WriteStats {
        self.ctx.writes
    }

    /// Zero the counters of [`Session::write_stats`].
    pub fn reset_write_stats(&mut self) {
        self.ctx.writes = Default::default();
    }

    /// Restart the session's random stream (`rand`, `randn`, `randperm`) from `seed`; a new
    /// session starts from a fixed default seed, so runs are reproducible either way.
    pub fn set_seed(&mut self, seed: u64) {
        self.ctx.rng = crate::ops::random::Rng::new(seed);
    }

    /// The program this session runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// Cap the instructions one run may execute (a hostile or buggy loop then fails with a
    /// runtime error instead of hanging).
    pub fn set_step_limit(&mut self, limit: u64) {
        self.step_limit = limit;
    }

    /// Pre-pack linear/matmul and convolution weights for the GEMM kernel on first use,
    /// within the budget of [`Session::set_prepack_budget`] (on: the default budget; off:
    /// a budget of 0, every product runs from the stored weights).
    pub fn set_weight_packing(&mut self, on: bool) {
        self.set_prepack_budget(if on {
            crate::prepack::DEFAULT_BUDGET
        } else {
            0
        });
    }

    /// Bytes of packed weight copies this session may keep (default
    /// [`crate::prepack::DEFAULT_BUDGET`], 256 MiB; one weight may take at most a quarter).
    /// Packed copies save re-packing a weight on every call; weights beyond the budget run
    /// from their stored layout (no copy), so memory stays weights + activations + budget.
    /// Lowering the budget drops the copies made so far if they exceed it.
    pub fn set_prepack_budget(&mut self, bytes: usize) {
        self.ctx.prepack.set_budget(bytes);
    }

    /// The budget set by [`Session::set_prepack_budget`].
    pub fn prepack_budget(&self) -> usize {
        self.ctx.prepack.budget()
    }

    /// Bytes held by packed weight copies so far.
    pub fn prepacked_bytes(&self) -> usize {
        self.ctx.prepack.used()
    }

    /// Replace the profiling clock (`None` disables timing; calls are still counted).
    /// On wasm32 there is no default clock: inject one (e.g. `performance.now`).
    pub fn set_clock(&mut self, clock: Option<Box<dyn Clock>>) {
        self.clock = clock;
    }

    /// Switch profiling on (resetting the counters) or off.
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| Profile {
            ops: self
                .program
                .graph
                .ops
                .iter()
                .map(|n| OpProfile {
                    name: n.clone(),
                    ..OpProfile::default()
                })
                .collect(),
            timed: self.clock.is_some(),
            ..Profile::default()
        });
    }

    /// The profile accumulated since profiling was switched on.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Switch tracing of every intermediate tensor on or off.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on.then(Vec::new);
    }

    /// Take the traced `(register debug name, tensor)` pairs recorded so far.
    pub fn take_trace(&mut self) -> Vec<(String, Tensor)> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Run with named inputs; returns the outputs named as in the signature.
    pub fn run(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.order_named(inputs)?;
        let outs = self.run_positional(ordered)?;
        Ok(self.name_outputs(outs))
    }

    /// The outputs named as in the signature.
    pub(crate) fn name_outputs(&self, outs: Vec<Tensor>) -> Vec<(String, Tensor)> {
        self.program
            .outputs()
            .iter()
            .map(|s| s.name.clone())
            .zip(outs)
            .collect()
    }

    /// Named inputs in signature order (trailing defaulted scalars may be left out), or the
    /// `InvalidInput` error `run` gives for unknown, missing or repeated names.
    pub(crate) fn order_named(&self, inputs: &[(&str, Tensor)]) -> Result<Vec<Tensor>> {
        let specs = self.program.inputs();
        let scalars = &self.program.graph.scalar_inputs;
        let describe = || describe_inputs(specs, scalars);
        for (name, _) in inputs {
            if !specs.iter().any(|s| s.name == *name) {
                return Err(Error::invalid_input(format!(
                    "unknown input '{name}'; the model takes {}",
                    describe()
                )));
            }
        }
        let mut ordered = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            let mut found = inputs.iter().filter(|(n, _)| *n == s.name);
            let Some(t) = found.next() else {
                // An input with a default may be left out when every later one is too.
                let defaulted =
                    |j: usize| scalar_of(scalars, j).is_some_and(|si| si.default.is_some());
                let rest_omitted = specs[i..]
                    .iter()
                    .enumerate()
                    .all(|(k, s2)| defaulted(i + k) && !inputs.iter().any(|(n, _)| *n == s2.name));
                if rest_omitted {
                    break;
                }
                return Err(Error::invalid_input(format!(
                    "missing input '{}'{}; the model takes {}",
                    s.name,
                    if defaulted(i) {
                        " (it has a default, but a later input is given)"
                    } else {
                        ""
                    },
                    describe()
                )));
            };
            if found.next().is_some() {
                return Err(Error::invalid_input(format!(
                    "input '{}' given twice",
                    s.name
                )));
            }
            ordered.push(t.1.clone());
        }
        Ok(ordered)
    }

    /// Run with inputs in signature order; returns the outputs in signature order.
    ///
    /// A scalar input (format 1.1) is given as a 0-d tensor of its kind (an integer tensor
    /// for an int, a floating one for a float, a bool tensor for a bool); trailing inputs
    /// with defaults may be left off.
    pub fn run_positional(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let program = self.program.clone();
        let args = bind(program.inputs(), &program.graph.scalar_inputs, inputs)?;
        let t0 = self.clock.as_ref().map(|c| c.now_ns());
        let mut exec = self.exec(&program, WeightTable::All(&program.weights), 0);
        // On a pool thread, so the ops' parallel splits start from inside the pool (see
        // `parallel::on_pool`); without threads this is a plain call.
        let values = wasm_torch_kernels::parallel::on_pool(|| exec.run_function(0, args, 0));
        let values = match values {
            Ok(v) => v,
            Err(e) if !self.states.is_empty() => {
                // A run that failed part way may have updated some state tensors and not
                // others (or lost one inside a failing op): start the state afresh so the
                // next run sees a consistent session.
                return Err(match self.reset_state() {
                    Ok(()) => e.context("the session state was reset to its initial value"),
                    Err(e2) => e2,
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(p) = self.profile.as_mut() {
            p.runs += 1;
            if let (Some(c), Some(t0)) = (self.clock.as_ref(), t0) {
                p.total_ns += c.now_ns().saturating_sub(t0);
            }
        }
        output_tensors(&program, values)
    }

    /// A run of the entry function that can stop before an instruction and go on later: the
    /// frame after binding `inputs` (checked as `run` checks them). Drive it with
    /// [`Session::resume`]. Used to run a model while its weights stream in.
    pub(crate) fn start_resumable(&mut self, inputs: &[(&str, Tensor)]) -> Result<Frame> {
        let ordered = self.order_named(inputs)?;
        let program = self.program.clone();
        let args = bind(program.inputs(), &program.graph.scalar_inputs, ordered)?;
        let mut exec = self.exec(&program, WeightTable::Arrived(&[]), 0);
        let regs = exec.enter(0, args)?;
        Ok(Frame {
            regs,
            pc: 0,
            steps: 0,
        })
    }

    /// Go on with `frame` while `can_run(pc)` says the next instruction's weights are in
    /// `weights`; `Some(outputs)` once the entry function returned, `None` when it stopped to
    /// wait. Instructions run exactly as in [`Session::run_positional`] (same plan, same
    /// kernels, same weight bytes), so the outputs are the same bits.
    pub(crate) fn resume(
        &mut self,
        frame: &mut Frame,
        weights: &[Option<Tensor>],
        can_run: &(dyn Fn(usize) -> bool + Sync),
    ) -> Result<Option<Vec<Tensor>>> {
        let program = self.program.clone();
        let mut exec = self.exec(&program, WeightTable::Arrived(weights), frame.steps);
        let flow = wasm_torch_kernels::parallel::on_pool(|| -> Result<Option<Vec<Value>>> {
            while can_run(frame.pc) {
                match exec.step(0, &mut frame.regs, frame.pc, 0)? {
                    Flow::Next(pc) => frame.pc = pc,
                    Flow::Return(values) => return Ok(Some(values)),
                }
            }
            Ok(None)
        });
        frame.steps = exec.steps;
        match flow? {
            Some(values) => output_tensors(&program, values).map(Some),
            None => Ok(None),
        }
    }

    fn exec<'s>(
        &'s mut self,
        program: &'s Program,
        weights: WeightTable<'s>,
        steps: u64,
    ) -> Exec<'s> {
        Exec {
            program,
            weights,
            plans: &self.plans,
            ctx: &mut self.ctx,
            profile: self.profile.as_mut(),
            clock: self.clock.as_deref(),
            trace: self.trace.as_mut(),
            steps,
            step_limit: self.step_limit,
            outer_bytes: 0,
            states: &mut self.states,
            seen: Default::default(),
        }
    }

    /// Let the packing caches treat `w` as a weight (it arrived after the session was made).
    pub(crate) fn note_weight(&mut self, w: &Tensor) {
        if w.is_contiguous() {
            self.ctx.persistent.insert(w.data_ptr());
        }
    }

    /// Continue with `program`, which must have the same graph as the one this session was
    /// made for (the complete program of a load whose first run started early).
    pub(crate) fn adopt_program(&mut self, program: Arc<Program>) {
        for w in program.weights.iter() {
            self.note_weight(w);
        }
        self.program = program;
    }
}

/// A suspended run of the entry function (see [`Session::start_resumable`]).
pub(crate) struct Frame {
    regs: Vec<Value>,
    /// The next instruction to execute.
    pub(crate) pc: usize,
    steps: u64,
}

/// The entry function's returned values as the signature's output tensors.
fn output_tensors(program: &Program, values: Vec<Value>) -> Result<Vec<Tensor>> {
    {
        let specs = program.outputs();
        if values.len() != specs.len() {
            return Err(Error::runtime(format!(
                "the entry function returned {} values but the signature lists {} outputs",
                values.len(),
                specs.len()
            )));
        }
        values
            .into_iter()
            .zip(specs)
            .map(|(v, s)| output_tensor(v).map_err(|e| e.context(format!("output '{}'", s.name))))
            .collect()
    }
}

/// Fresh state tensors for `program`: zeros, or a copy of the named tensor-table entry.
fn initial_states(program: &Program) -> Result<Vec<Tensor>> {
    use wasm_torch_format::model::StateInit;
    program
        .graph
        .states
        .iter()
        .map(|st| {
            let shape = st
                .shape
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| Error::oom("state too large")))
                .collect::<Result<Vec<_>>>()?;
            match st.init {
                StateInit::Zeros => Tensor::full(st.dtype, shape, 0.0),
                StateInit::Tensor(i) => {
                    let w = &program.weights[i as usize];
                    Tensor::from_le_bytes(st.dtype, shape, &w.to_le_bytes()?)
                }
            }
            .map_err(|e| e.context(format!("state '{}'", st.name)))
        })
        .collect()
}

/// Turn a returned value into an output tensor (scalars become 0-d tensors).
fn output_tensor(v: Value) -> Result<Tensor> {
    Ok(match v {
        Value::Tensor(t) => t,
        Value::Int(i) => Tensor::from_i64(vec![], vec![i]),
        Value::Float(f) => Tensor::from_f32(vec![], vec![f as f32]),
        Value::Bool(b) => Tensor::from_bool(vec![], vec![b]),
        other => {
            return Err(Error::runtime(format!(
                "expected a tensor, the model returned a {}",
                other.type_name()
            )))
        }
    })
}
