//! The memory planner: liveness analysis over each function's bytecode.
//!
//! Classic backward dataflow on the instruction-level control-flow graph (so loops formed
//! by backward jumps keep loop-carried registers alive across iterations), iterated to a
//! fixpoint. The result tells the executor, per instruction, which registers die there:
//! after a straight-line instruction, or on each edge out of a branch. Dead registers are
//! cleared at once, so their buffers are freed, and an operand whose register dies at the
//! op consuming it is *moved* into the op, which may then reuse its buffer in place.

use wasm_torch_format::model::{Function, Instr, Operand, Reg};

/// A fixed-size set of registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegSet(Vec<u64>);

impl RegSet {
    pub(crate) fn new(n: usize) -> RegSet {
        RegSet(vec![0; n.div_ceil(64)])
    }
    pub(crate) fn insert(&mut self, r: Reg) {
        self.0[r as usize / 64] |= 1 << (r % 64);
    }
    pub(crate) fn remove(&mut self, r: Reg) {
        self.0[r as usize / 64] &= !(1 << (r % 64));
    }
    fn union_with(&mut self, o: &RegSet) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= *b;
        }
    }
    /// Members of `self` not in `o`.
    fn minus(&self, o: &RegSet) -> Vec<Reg> {
        let mut out = Vec::new();
        for (w, (a, b)) in self.0.iter().zip(&o.0).enumerate() {
            let mut bits = a & !b;
            while bits != 0 {
                let t = bits.trailing_zeros();
                out.push((w * 64) as Reg + t);
                bits &= bits - 1;
            }
        }
        out
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = Reg> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            (0..64u32)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| (w * 64) as Reg + b)
        })
    }
}

/// Registers an instruction reads.
pub(crate) fn uses(i: &Instr) -> Vec<Reg> {
    let regs = |ops: &[Operand]| {
        ops.iter()
            .filter_map(|o| match o {
                Operand::Reg(r) => Some(*r),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    match i {
        Instr::CallOp { args, .. } | Instr::CallFunction { args, .. } => regs(args),
        Instr::BuildList { items, .. } | Instr::BuildTuple { items, .. } => regs(items),
        Instr::Return { values } => regs(values),
        Instr::Move { src, .. } | Instr::Unpack { src, .. } => regs(std::slice::from_ref(src)),
        Instr::JumpIf { cond, .. } | Instr::JumpIfNot { cond, .. } => {
            regs(std::slice::from_ref(cond))
        }
        Instr::LoadConst { .. } | Instr::Jump { .. } => Vec::new(),
    }
}

/// Registers an instruction writes.
pub(crate) fn defs(i: &Instr) -> Vec<Reg> {
    match i {
        Instr::CallOp { outputs, .. } | Instr::CallFunction { outputs, .. } => outputs.clone(),
        Instr::LoadConst { dst, .. }
        | Instr::Move { dst, .. }
        | Instr::BuildList { dst, .. }
        | Instr::BuildTuple { dst, .. } => vec![*dst],
        Instr::Unpack { dsts, .. } => dsts.clone(),
        _ => Vec::new(),
    }
}

/// Control-flow successors of instruction `pc`.
fn successors(code: &[Instr], pc: usize) -> Vec<usize> {
    let next = if pc + 1 < code.len() {
        vec![pc + 1]
    } else {
        vec![]
    };
    match &code[pc] {
        Instr::Jump { target } => vec![*target as usize],
        Instr::JumpIf { target, .. } | Instr::JumpIfNot { target, .. } => {
            let mut v = next;
            v.push(*target as usize);
            v
        }
        Instr::Return { .. } => vec![],
        _ => next,
    }
}

/// The plan for one function.
#[derive(Clone, Debug)]
pub(crate) struct FunctionPlan {
    /// Registers to clear after a straight-line instruction completes.
    pub drop_after: Vec<Vec<Reg>>,
    /// For branches: registers to clear when the jump is taken.
    pub drop_taken: Vec<Vec<Reg>>,
    /// For conditional branches: registers to clear when falling through.
    pub drop_fall: Vec<Vec<Reg>>,
    /// Parameters never read (cleared on entry).
    pub drop_on_entry: Vec<Reg>,
    /// Registers live after each instruction (for the planned-peak accounting).
    pub live_out: Vec<RegSet>,
}

impl FunctionPlan {
    /// True when register `r`, read by instruction `pc`, is dead after it (may be moved).
    pub(crate) fn dies_at(&self, pc: usize, r: Reg) -> bool {
        self.drop_after[pc].contains(&r)
    }
}

/// Liveness-based plan for `f`. The function must already be validated (register and
/// target indices in range).
pub(crate) fn plan_function(f: &Function) -> FunctionPlan {
    let n = f.code.len();
    let nregs = f.num_registers as usize;
    let mut live_in: Vec<RegSet> = vec![RegSet::new(nregs); n];
    let mut live_out: Vec<RegSet> = vec![RegSet::new(nregs); n];
    let succ: Vec<Vec<usize>> = (0..n).map(|pc| successors(&f.code, pc)).collect();
    let u: Vec<Vec<Reg>> = f.code.iter().map(uses).collect();
    let d: Vec<Vec<Reg>> = f.code.iter().map(defs).collect();
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            let mut out = RegSet::new(nregs);
            for &s in &succ[pc] {
                if s < n {
                    out.union_with(&live_in[s]);
                }
            }
            let mut inn = out.clone();
            for &r in &d[pc] {
                inn.remove(r);
            }
            for &r in &u[pc] {
                inn.insert(r);
            }
            if inn != live_in[pc] || out != live_out[pc] {
                changed = true;
                live_in[pc] = inn;
                live_out[pc] = out;
            }
        }
        if !changed {
            break;
        }
    }
    let mut drop_after = vec![Vec::new(); n];
    let mut drop_taken = vec![Vec::new(); n];
    let mut drop_fall = vec![Vec::new(); n];
    for pc in 0..n {
        match &f.code[pc] {
            Instr::Jump { target }
            | Instr::JumpIf { target, .. }
            | Instr::JumpIfNot { target, .. } => {
                let t = *target as usize;
                if t < n {
                    drop_taken[pc] = live_in[pc].minus(&live_in[t]);
                }
                if pc + 1 < n && !matches!(f.code[pc], Instr::Jump { .. }) {
                    drop_fall[pc] = live_in[pc].minus(&live_in[pc + 1]);
                }
            }
            Instr::Return { .. } => {}
            _ => {
                let mut touched = RegSet::new(nregs);
                for &r in u[pc].iter().chain(&d[pc]) {
                    touched.insert(r);
                }
                drop_after[pc] = touched.minus(&live_out[pc]);
            }
        }
    }
    let mut params = RegSet::new(nregs);
    for &p in &f.params {
        params.insert(p);
    }
    let drop_on_entry = if n > 0 {
        params.minus(&live_in[0])
    } else {
        Vec::new()
    };
    FunctionPlan {
        drop_after,
        drop_taken,
        drop_fall,
        drop_on_entry,
        live_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn func(code: Vec<Instr>, nregs: u32) -> Function {
        Function {
            name: "f".into(),
            num_registers: nregs,
            params: vec![0],
            register_names: vec![],
            code,
        }
    }

    #[test]
    fn straight_line_drops_after_last_use() {
        // r1 = op(r0); r2 = op(r1); return r2
        let f = func(
            vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0)],
                    outputs: vec![1],
                },
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(1)],
                    outputs: vec![2],
                },
                Instr::Return {
                    values: vec![Operand::Reg(2)],
                },
            ],
            3,
        );
        let p = plan_function(&f);
        assert_eq!(p.drop_after[0], vec![0]);
        assert_eq!(p.drop_after[1], vec![1]);
        assert!(p.dies_at(1, 1));
        assert!(!p.dies_at(0, 1));
    }

    #[test]
    fn loop_keeps_loop_carried_and_invariant_registers() {
        // 0: r1 = op(r0)        (loop-invariant use of r0 inside the loop)
        // 1: r2 = op(r0, r1)
        // 2: jumpif r2 -> 1
        // 3: return r2
        let f = func(
            vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0)],
                    outputs: vec![1],
                },
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0), Operand::Reg(1)],
                    outputs: vec![2],
                },
                Instr::JumpIf {
                    cond: Operand::Reg(2),
                    target: 1,
                },
                Instr::Return {
                    values: vec![Operand::Reg(2)],
                },
            ],
            3,
        );
        let p = plan_function(&f);
        // r0 and r1 are read again on the next iteration: never dropped inside the loop body
        assert!(!p.dies_at(1, 0));
        assert!(!p.dies_at(1, 1));
        // leaving the loop drops them
        let mut fall = p.drop_fall[2].clone();
        fall.sort();
        assert_eq!(fall, vec![0, 1]);
        // r2 is redefined at the loop head before any read: dead on the back edge
        assert_eq!(p.drop_taken[2], vec![2]);
    }
}
