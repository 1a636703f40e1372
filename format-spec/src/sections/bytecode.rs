//! Bytecode section (id 4): functions of register-based instructions.
//!
//! Index *ranges* (registers, ops, constants, ...) are checked later by `validate`, which
//! sees the whole graph; this module checks only the encoding.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{Function, Instr, Operand};
use crate::primitives::{fail, put, string, u32_, u8_, vec_of, PResult};

/// Opcodes (SPEC.md §4.4).
pub(crate) mod op {
    pub const CALL_OP: u8 = 1;
    pub const LOAD_CONST: u8 = 2;
    pub const MOVE: u8 = 3;
    pub const BUILD_LIST: u8 = 4;
    pub const BUILD_TUPLE: u8 = 5;
    pub const UNPACK: u8 = 6;
    pub const JUMP: u8 = 7;
    pub const JUMP_IF: u8 = 8;
    pub const JUMP_IF_NOT: u8 = 9;
    pub const CALL_FUNCTION: u8 = 10;
    pub const RETURN: u8 = 11;
}

const OPERAND_REG: u8 = 0;
const OPERAND_CONST: u8 = 1;
const OPERAND_WEIGHT: u8 = 2;
/// Format 1.1: a session-state tensor (index into the state section).
const OPERAND_STATE: u8 = 3;

fn operand(i: &[u8]) -> PResult<'_, Operand> {
    let (rest, tag) = u8_(i)?;
    let (rest, v) = u32_(rest)?;
    match tag {
        OPERAND_REG => Ok((rest, Operand::Reg(v))),
        OPERAND_CONST => Ok((rest, Operand::Const(v))),
        OPERAND_WEIGHT => Ok((rest, Operand::Weight(v))),
        OPERAND_STATE => Ok((rest, Operand::State(v))),
        t => fail(
            i,
            ErrorKind::InvalidCode,
            format!("unknown operand tag {t}"),
        ),
    }
}

fn operands<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<Operand>> {
    vec_of(i, 5, l.max_items, "operands", operand)
}

fn regs<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<u32>> {
    vec_of(i, 4, l.max_items, "registers", u32_)
}

fn instr<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Instr> {
    let (r, code) = u8_(i)?;
    Ok(match code {
        op::CALL_OP => {
            let (r, op) = u32_(r)?;
            let (r, args) = operands(r, l)?;
            let (r, outputs) = regs(r, l)?;
            (r, Instr::CallOp { op, args, outputs })
        }
        op::LOAD_CONST => {
            let (r, dst) = u32_(r)?;
            let (r, index) = u32_(r)?;
            (r, Instr::LoadConst { dst, index })
        }
        op::MOVE => {
            let (r, dst) = u32_(r)?;
            let (r, src) = operand(r)?;
            (r, Instr::Move { dst, src })
        }
        op::BUILD_LIST | op::BUILD_TUPLE => {
            let (r, dst) = u32_(r)?;
            let (r, items) = operands(r, l)?;
            if code == op::BUILD_LIST {
                (r, Instr::BuildList { dst, items })
            } else {
                (r, Instr::BuildTuple { dst, items })
            }
        }
        op::UNPACK => {
            let (r, src) = operand(r)?;
            let (r, dsts) = regs(r, l)?;
            (r, Instr::Unpack { src, dsts })
        }
        op::JUMP => {
            let (r, target) = u32_(r)?;
            (r, Instr::Jump { target })
        }
        op::JUMP_IF | op::JUMP_IF_NOT => {
            let (r, cond) = operand(r)?;
            let (r, target) = u32_(r)?;
            if code == op::JUMP_IF {
                (r, Instr::JumpIf { cond, target })
            } else {
                (r, Instr::JumpIfNot { cond, target })
            }
        }
        op::CALL_FUNCTION => {
            let (r, function) = u32_(r)?;
            let (r, args) = operands(r, l)?;
            let (r, outputs) = regs(r, l)?;
            (
                r,
                Instr::CallFunction {
                    function,
                    args,
                    outputs,
                },
            )
        }
        op::RETURN => {
            let (r, values) = operands(r, l)?;
            (r, Instr::Return { values })
        }
        c => return fail(i, ErrorKind::InvalidCode, format!("unknown opcode {c}")),
    })
}

fn function<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Function> {
    let (i, name) = string(i, l.max_string_len)?;
    let (i, num_registers) = u32_(i)?;
    let (i, params) = regs(i, l)?;
    let (i, register_names) = vec_of(i, 4, l.max_registers, "register names", |i| {
        string(i, l.max_string_len)
    })?;
    let (i, code) = vec_of(i, 5, l.max_instructions, "instructions", |i| instr(i, l))?;
    Ok((
        i,
        Function {
            name,
            num_registers,
            params,
            register_names,
            code,
        },
    ))
}

/// Parse the bytecode payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<Function>> {
    vec_of(i, 16, l.max_functions, "functions", |i| function(i, l))
}

fn put_operand(o: &mut Vec<u8>, x: &Operand) {
    let (tag, v) = match *x {
        Operand::Reg(r) => (OPERAND_REG, r),
        Operand::Const(c) => (OPERAND_CONST, c),
        Operand::Weight(w) => (OPERAND_WEIGHT, w),
        Operand::State(s) => (OPERAND_STATE, s),
    };
    put::u8_(o, tag);
    put::u32_(o, v);
}

fn put_operands(o: &mut Vec<u8>, xs: &[Operand]) {
    put::count(o, xs.len());
    for x in xs {
        put_operand(o, x);
    }
}

fn put_regs(o: &mut Vec<u8>, rs: &[u32]) {
    put::count(o, rs.len());
    for &r in rs {
        put::u32_(o, r);
    }
}

fn encode_instr(o: &mut Vec<u8>, ins: &Instr) {
    match ins {
        Instr::CallOp {
            op: k,
            args,
            outputs,
        } => {
            put::u8_(o, op::CALL_OP);
            put::u32_(o, *k);
            put_operands(o, args);
            put_regs(o, outputs);
        }
        Instr::LoadConst { dst, index } => {
            put::u8_(o, op::LOAD_CONST);
            put::u32_(o, *dst);
            put::u32_(o, *index);
        }
        Instr::Move { dst, src } => {
            put::u8_(o, op::MOVE);
            put::u32_(o, *dst);
            put_operand(o, src);
        }
        Instr::BuildList { dst, items } => {
            put::u8_(o, op::BUILD_LIST);
            put::u32_(o, *dst);
            put_operands(o, items);
        }
        Instr::BuildTuple { dst, items } => {
            put::u8_(o, op::BUILD_TUPLE);
            put::u32_(o, *dst);
            put_operands(o, items);
        }
        Instr::Unpack { src, dsts } => {
            put::u8_(o, op::UNPACK);
            put_operand(o, src);
            put_regs(o, dsts);
        }
        Instr::Jump { target } => {
            put::u8_(o, op::JUMP);
            put::u32_(o, *target);
        }
        Instr::JumpIf { cond, target } => {
            put::u8_(o, op::JUMP_IF);
            put_operand(o, cond);
            put::u32_(o, *target);
        }
        Instr::JumpIfNot { cond, target } => {
            put::u8_(o, op::JUMP_IF_NOT);
            put_operand(o, cond);
            put::u32_(o, *target);
        }
        Instr::CallFunction {
            function,
            args,
            outputs,
        } => {
            put::u8_(o, op::CALL_FUNCTION);
            put::u32_(o, *function);
            put_operands(o, args);
            put_regs(o, outputs);
        }
        Instr::Return { values } => {
            put::u8_(o, op::RETURN);
            put_operands(o, values);
        }
    }
}

/// Encode the bytecode payload.
pub(crate) fn encode(fs: &[Function], o: &mut Vec<u8>) {
    put::count(o, fs.len());
    for f in fs {
        put::string(o, &f.name);
        put::u32_(o, f.num_registers);
        put_regs(o, &f.params);
        put::count(o, f.register_names.len());
        for n in &f.register_names {
            put::string(o, n);
        }
        put::count(o, f.code.len());
        for ins in &f.code {
            encode_instr(o, ins);
        }
    }
}
