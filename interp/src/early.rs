//! Running a model while its weights stream in.
//!
//! A `.wtb` file puts the graph before the weights and the chunks in file order, so a run
//! can start once the graph is validated: the entry function executes instruction by
//! instruction, and before each one it checks that every weight the instruction reads has
//! arrived (its chunk decoded, checked and sealed, see `wasm_torch_format::Arena::complete`).
//! When one has not, the run stops there and the loader resumes it after the next piece.
//! Single-threaded and non-blocking: the run only ever advances inside
//! [`crate::StreamingLoader::feed`], on the caller's thread.
//!
//! The run is an ordinary [`Session`] run — same memory plan, same kernels, weights viewing
//! the same arena bytes the finished [`Program`] holds — so its outputs are the bits a
//! load-then-run gives. Calls into other functions (`CallFunction`) wait for every weight
//! any function reads (a call runs to completion once started). A model with session state
//! runs when the load completes (its initial states may copy weights). The run's program is
//! a weightless copy of the graph (bytecode, constants, assets) until the load completes and
//! the session adopts the finished program.

use std::sync::Arc;

use wasm_torch_format::model::{Graph, Instr, Operand};

use crate::error::Result;
use crate::ops::OpFn;
use crate::program::Program;
use crate::session::{Frame, Session};
use crate::tensor::Tensor;

/// One run of the entry function that goes along with a streaming load.
pub(crate) enum EarlyRun {
    /// Inputs given (and the packing budget, when not the default); the graph has not
    /// arrived.
    Waiting(Vec<(String, Tensor)>, Option<usize>),
    /// Executing; `frame.pc` waits until `need[pc] <= chunks built`.
    Running {
        session: Box<Session>,
        frame: Frame,
        /// Per instruction of the entry function: how many leading chunks must have arrived.
        need: Vec<u32>,
    },
    /// A model with session state: runs on the complete program at the end of the load.
    AtFinish(Vec<(String, Tensor)>, Option<usize>),
    /// The entry function returned.
    Done {
        session: Box<Session>,
        outputs: Vec<(String, Tensor)>,
    },
}

/// The first run of a streamed model: the session that ran it (kept, with its packed
/// weights and state) and its outputs, named as in the signature.
#[derive(Debug)]
pub struct FirstRun {
    /// The session the run used; later runs on it behave as on any session of the program.
    pub session: Session,
    /// The outputs, in signature order.
    pub outputs: Vec<(String, Tensor)>,
}

fn named(inputs: &[(String, Tensor)]) -> Vec<(&str, Tensor)> {
    inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect()
}

/// Per instruction of the entry function, the count of leading chunks that hold every
/// weight it reads (0: none). A call waits for the weights of all functions.
fn chunks_needed(graph: &Graph) -> Vec<u32> {
    let of = |o: &Operand| match o {
        Operand::Weight(w) => graph.tensors.get(*w as usize).map_or(0, |t| t.chunk + 1),
        _ => 0,
    };
    let direct = |ins: &Instr| -> u32 {
        let ops: &[Operand] = match ins {
            Instr::CallOp { args, .. } | Instr::CallFunction { args, .. } => args,
            Instr::BuildList { items, .. } | Instr::BuildTuple { items, .. } => items,
            Instr::Return { values } => values,
            Instr::Move { src, .. } | Instr::Unpack { src, .. } => std::slice::from_ref(src),
            Instr::JumpIf { cond, .. } | Instr::JumpIfNot { cond, .. } => {
                std::slice::from_ref(cond)
            }
            Instr::LoadConst { .. } | Instr::Jump { .. } => &[],
        };
        ops.iter().map(of).max().unwrap_or(0)
    };
    let all = graph
        .functions
        .iter()
        .flat_map(|f| f.code.iter().map(direct))
        .max()
        .unwrap_or(0);
    graph.functions.first().map_or_else(Vec::new, |f| {
        f.code
            .iter()
            .map(|ins| match ins {
                Instr::CallFunction { .. } => all,
                _ => direct(ins),
            })
            .collect()
    })
}

impl EarlyRun {
    /// The graph arrived: check the inputs and start (or, for a stateful model, defer).
    pub(crate) fn start(self, graph: &Graph, ops: Vec<OpFn>) -> Result<EarlyRun> {
        let EarlyRun::Waiting(inputs, budget) = self else {
            return Ok(self);
        };
        if !graph.states.is_empty() {
            return Ok(EarlyRun::AtFinish(inputs, budget));
        }
        let program = Arc::new(Program::without_weights(graph, ops)?);
        let mut session = Box::new(Session::new(program)?);
        if let Some(b) = budget {
            session.set_prepack_budget(b);
        }
        let frame = session.start_resumable(&named(&inputs))?;
        Ok(EarlyRun::Running {
            session,
            frame,
            need: chunks_needed(graph),
        })
    }

    /// Weight `w` arrived (the packing caches may treat it as a weight).
    pub(crate) fn note_weight(&mut self, w: &Tensor) {
        if let EarlyRun::Running { session, .. } = self {
            session.note_weight(w);
        }
    }

    /// Run as far as the first `chunks` chunks (whose weights are in `weights`) allow.
    pub(crate) fn advance(self, weights: &[Option<Tensor>], chunks: usize) -> Result<EarlyRun> {
        let EarlyRun::Running {
            mut session,
            mut frame,
            need,
        } = self
        else {
            return Ok(self);
        };
        let can_run = |pc: usize| need.get(pc).is_none_or(|&n| n as usize <= chunks);
        match session.resume(&mut frame, weights, &can_run)? {
            Some(outs) => {
                let outputs = session.name_outputs(outs);
                Ok(EarlyRun::Done { session, outputs })
            }
            None => Ok(EarlyRun::Running {
                session,
                frame,
                need,
            }),
        }
    }

    /// The next instruction of a suspended run.
    pub(crate) fn pc(&self) -> Option<usize> {
        match self {
            EarlyRun::Running { frame, .. } => Some(frame.pc),
            _ => None,
        }
    }

    /// The load is complete and `program` is the finished model: the first run's result
    /// (call [`EarlyRun::advance`] with every chunk first).
    pub(crate) fn finish(self, program: &Arc<Program>) -> Result<FirstRun> {
        match self {
            EarlyRun::Done {
                mut session,
                outputs,
            } => {
                session.adopt_program(Arc::clone(program));
                Ok(FirstRun {
                    session: *session,
                    outputs,
                })
            }
            EarlyRun::AtFinish(inputs, budget) | EarlyRun::Waiting(inputs, budget) => {
                let mut session = Session::new(Arc::clone(program))?;
                if let Some(b) = budget {
                    session.set_prepack_budget(b);
                }
                let outputs = session.run(&named(&inputs))?;
                Ok(FirstRun { session, outputs })
            }
            EarlyRun::Running { .. } => Err(crate::error::Error::runtime(
                "internal: the early run stopped with every weight present",
            )),
        }
    }
}
