//! Cross-section validation of a parsed graph (SPEC.md §6): every index in range, jump
//! targets inside their function, tensors inside their chunks, chunks inside the weight
//! section and the arena, alignment, sizes. Runs once, before anything is allocated for the
//! weights, so the interpreter can index without further checks.

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::limits::Limits;
use crate::model::{Codec, DType, Graph, Instr, Operand, Quantization};
use crate::sections::constants::byte_len;
use crate::sections::header::FileHeader;

/// Round `x` up to a multiple of 64 (`None` on overflow).
pub fn align64(x: u64) -> Option<u64> {
    x.checked_add(63).map(|v| v & !63)
}

struct Ctx<'a> {
    /// The file's header, for section offsets in errors (`None` for a graph built in memory).
    header: Option<&'a FileHeader>,
}

impl Ctx<'_> {
    fn err(&self, kind: ErrorKind, s: SectionKind, msg: String) -> FormatError {
        let off = self
            .header
            .and_then(|h| h.section(s))
            .map_or(0, |e| e.offset);
        FormatError::new(kind, Some(s), off, msg)
    }
}

/// Validate `g` (parsed from a file with `header`) against itself, the file and `limits`.
pub fn validate(g: &Graph, header: &FileHeader, limits: &Limits) -> Result<(), FormatError> {
    let cx = Ctx {
        header: Some(header),
    };
    validate_code(&cx, g, limits)?;
    validate_chunks(&cx, header, g, limits)?;
    validate_tensors(&cx, g)?;
    validate_states(&cx, g, limits)?;
    validate_scalar_inputs(&cx, g)?;
    validate_assets(&cx, g)?;
    Ok(())
}

/// Scalar-input rules (SPEC.md §4.9): each entry names an existing signature input, entries
/// are in strictly increasing input order (so no input is listed twice), the input's
/// signature entry is rank 0 with the kind's dtype, and a default has the input's kind.
fn validate_scalar_inputs(cx: &Ctx<'_>, g: &Graph) -> Result<(), FormatError> {
    let s = SectionKind::ScalarInputs;
    let n = g.signature.inputs.len();
    let mut prev: Option<u32> = None;
    for (k, si) in g.scalar_inputs.iter().enumerate() {
        let e = |kind, msg: String| cx.err(kind, s, format!("scalar input entry {k}: {msg}"));
        let spec = g.signature.inputs.get(si.input as usize).ok_or_else(|| {
            e(
                ErrorKind::IndexOutOfRange,
                format!("input {} >= {n} signature inputs", si.input),
            )
        })?;
        if prev.is_some_and(|p| si.input <= p) {
            return Err(e(
                ErrorKind::Inconsistent,
                format!(
                    "input {} follows input {}; entries must name inputs in strictly increasing order",
                    si.input,
                    prev.unwrap_or_default()
                ),
            ));
        }
        prev = Some(si.input);
        if spec.dtype != si.kind.dtype() || !spec.shape.is_empty() {
            return Err(e(
                ErrorKind::Inconsistent,
                format!(
                    "input {} ('{spec}') is declared {} but its signature entry is not {}[]",
                    si.input,
                    si.kind.name(),
                    si.kind.dtype().name()
                ),
            ));
        }
        if si.fixed && si.default.is_none() {
            return Err(e(
                ErrorKind::Inconsistent,
                format!("input {} is fixed but has no value", si.input),
            ));
        }
        if let Some(d) = si.default {
            if d.kind() != si.kind {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!(
                        "input {} is {} but its default is {}",
                        si.input,
                        si.kind.name(),
                        d.kind().name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Asset rules (SPEC.md §4.10): every name is non-empty and unique, so a lookup by name is
/// unambiguous. (Sizes were bounded while parsing.)
pub(crate) fn validate_assets_of(g: &Graph) -> Result<(), (usize, String)> {
    let mut names = std::collections::HashSet::new();
    for (i, a) in g.assets.iter().enumerate() {
        if a.name.is_empty() {
            return Err((i, "the name is empty".into()));
        }
        if !names.insert(a.name.as_str()) {
            return Err((i, format!("duplicate asset name '{}'", a.name)));
        }
    }
    Ok(())
}

fn validate_assets(cx: &Ctx<'_>, g: &Graph) -> Result<(), FormatError> {
    validate_assets_of(g).map_err(|(i, msg)| {
        cx.err(
            ErrorKind::Inconsistent,
            SectionKind::Assets,
            format!("asset {i}: {msg}"),
        )
    })
}

/// State rules (SPEC.md §4.8): a tensor-initialised state names an existing tensor of the
/// same dtype and shape; names are unique; the states' total size fits `max_arena`, so a
/// session can always allocate them.
fn validate_states(cx: &Ctx<'_>, g: &Graph, limits: &Limits) -> Result<(), FormatError> {
    use crate::model::StateInit;
    let s = SectionKind::State;
    let mut total: u64 = 0;
    let mut names = std::collections::HashSet::new();
    for (si, st) in g.states.iter().enumerate() {
        let e = |kind, msg: String| cx.err(kind, s, format!("state {si} ({}): {msg}", st.name));
        if !names.insert(st.name.as_str()) {
            return Err(e(ErrorKind::Inconsistent, "duplicate state name".into()));
        }
        let bytes = st
            .shape
            .iter()
            .try_fold(st.dtype.size() as u64, |acc, &d| acc.checked_mul(d))
            .and_then(|b| total.checked_add(b))
            .filter(|&t| t <= limits.max_arena);
        total = match bytes {
            Some(t) => t,
            None => {
                return Err(e(
                    ErrorKind::LimitExceeded,
                    format!(
                        "shape {:?} of {} brings the states past max_arena ({} bytes)",
                        st.shape,
                        st.dtype.name(),
                        limits.max_arena
                    ),
                ))
            }
        };
        if let StateInit::Tensor(ti) = st.init {
            let t = g.tensors.get(ti as usize).ok_or_else(|| {
                e(
                    ErrorKind::IndexOutOfRange,
                    format!("initial value tensor {ti} >= {} tensors", g.tensors.len()),
                )
            })?;
            if t.dtype != st.dtype || t.shape != st.shape {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!(
                        "state is {}{:?} but its initial value '{}' is {}{:?}",
                        st.dtype.name(),
                        st.shape,
                        t.name,
                        t.dtype.name(),
                        t.shape
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Validate only `g`'s bytecode (functions, registers, operands, jumps, calls, the entry's
/// signature): the checks that need no file, for a graph built in memory. [`validate`] runs
/// them too.
pub fn validate_bytecode(g: &Graph, limits: &Limits) -> Result<(), FormatError> {
    validate_code(&Ctx { header: None }, g, limits)
}

fn return_arity(code: &[Instr]) -> Option<Result<usize, (usize, usize, usize)>> {
    let mut arity = None;
    for (pc, ins) in code.iter().enumerate() {
        if let Instr::Return { values } = ins {
            match arity {
                None => arity = Some(values.len()),
                Some(a) if a != values.len() => return Some(Err((pc, a, values.len()))),
                _ => {}
            }
        }
    }
    arity.map(Ok)
}

fn validate_code(cx: &Ctx<'_>, g: &Graph, limits: &Limits) -> Result<(), FormatError> {
    let s = SectionKind::Bytecode;
    let e = |kind, msg: String| cx.err(kind, s, msg);
    if g.functions.is_empty() {
        return Err(e(
            ErrorKind::Inconsistent,
            "no functions (function 0 is the entry)".into(),
        ));
    }
    let mut arities = Vec::with_capacity(g.functions.len());
    for (fi, f) in g.functions.iter().enumerate() {
        match return_arity(&f.code) {
            Some(Ok(a)) => arities.push(a),
            Some(Err((pc, a, b))) => {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!(
                        "function {fi} instruction {pc} returns {b} values, an earlier return {a}"
                    ),
                ))
            }
            None => {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!("function {fi} ({}) has no return instruction", f.name),
                ))
            }
        }
    }
    let entry = &g.functions[0];
    if entry.params.len() != g.signature.inputs.len() {
        return Err(e(
            ErrorKind::Inconsistent,
            format!(
                "entry function takes {} parameters, the signature has {} inputs",
                entry.params.len(),
                g.signature.inputs.len()
            ),
        ));
    }
    if arities[0] != g.signature.outputs.len() {
        return Err(e(
            ErrorKind::Inconsistent,
            format!(
                "entry function returns {} values, the signature has {} outputs",
                arities[0],
                g.signature.outputs.len()
            ),
        ));
    }
    for (fi, f) in g.functions.iter().enumerate() {
        let nreg = f.num_registers;
        if nreg > limits.max_registers {
            return Err(e(
                ErrorKind::LimitExceeded,
                format!(
                    "function {fi} has {nreg} registers, the limit is {}",
                    limits.max_registers
                ),
            ));
        }
        if !f.register_names.is_empty() && f.register_names.len() != nreg as usize {
            return Err(e(
                ErrorKind::Inconsistent,
                format!(
                    "function {fi} has {} register names for {nreg} registers",
                    f.register_names.len()
                ),
            ));
        }
        for &p in &f.params {
            if p >= nreg {
                return Err(e(
                    ErrorKind::IndexOutOfRange,
                    format!("function {fi} parameter register {p} >= {nreg} registers"),
                ));
            }
        }
        match f.code.last() {
            Some(Instr::Return { .. }) | Some(Instr::Jump { .. }) => {}
            _ => {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!("function {fi} does not end in return or jump"),
                ))
            }
        }
        let ncode = f.code.len() as u64;
        for (pc, ins) in f.code.iter().enumerate() {
            let at = |what: String| {
                e(
                    ErrorKind::IndexOutOfRange,
                    format!("function {fi} instruction {pc}: {what}"),
                )
            };
            let reg = |r: u32| {
                if r < nreg {
                    Ok(())
                } else {
                    Err(at(format!("register {r} >= {nreg} registers")))
                }
            };
            let opnd = |o: &Operand| match *o {
                Operand::Reg(r) => reg(r),
                Operand::Const(c) if (c as usize) < g.constants.len() => Ok(()),
                Operand::Const(c) => Err(at(format!(
                    "constant {c} >= {} constants",
                    g.constants.len()
                ))),
                Operand::Weight(w) if (w as usize) < g.tensors.len() => Ok(()),
                Operand::Weight(w) => Err(at(format!("tensor {w} >= {} tensors", g.tensors.len()))),
                Operand::State(k) if (k as usize) < g.states.len() => Ok(()),
                Operand::State(k) => Err(at(format!("state {k} >= {} states", g.states.len()))),
            };
            let target = |t: u32| {
                if (t as u64) < ncode {
                    Ok(())
                } else {
                    Err(at(format!("jump target {t} >= {ncode} instructions")))
                }
            };
            match ins {
                Instr::CallOp { op, args, outputs } => {
                    if *op as usize >= g.ops.len() {
                        return Err(at(format!("op {op} >= {} ops", g.ops.len())));
                    }
                    args.iter().try_for_each(opnd)?;
                    outputs.iter().try_for_each(|&r| reg(r))?;
                }
                Instr::LoadConst { dst, index } => {
                    reg(*dst)?;
                    opnd(&Operand::Const(*index))?;
                }
                Instr::Move { dst, src } => {
                    reg(*dst)?;
                    opnd(src)?;
                }
                Instr::BuildList { dst, items } | Instr::BuildTuple { dst, items } => {
                    reg(*dst)?;
                    items.iter().try_for_each(opnd)?;
                }
                Instr::Unpack { src, dsts } => {
                    opnd(src)?;
                    dsts.iter().try_for_each(|&r| reg(r))?;
                }
                Instr::Jump { target: t } => target(*t)?,
                Instr::JumpIf { cond, target: t } | Instr::JumpIfNot { cond, target: t } => {
                    opnd(cond)?;
                    target(*t)?;
                }
                Instr::CallFunction {
                    function,
                    args,
                    outputs,
                } => {
                    let callee = g.functions.get(*function as usize).ok_or_else(|| {
                        at(format!(
                            "function {function} >= {} functions",
                            g.functions.len()
                        ))
                    })?;
                    args.iter().try_for_each(opnd)?;
                    outputs.iter().try_for_each(|&r| reg(r))?;
                    if args.len() != callee.params.len()
                        || outputs.len() != arities[*function as usize]
                    {
                        return Err(e(
                            ErrorKind::Inconsistent,
                            format!(
                                "function {fi} instruction {pc}: calls function {function} with {} args / {} outputs, it takes {} and returns {}",
                                args.len(),
                                outputs.len(),
                                callee.params.len(),
                                arities[*function as usize]
                            ),
                        ));
                    }
                }
                Instr::Return { values } => values.iter().try_for_each(opnd)?,
            }
        }
    }
    Ok(())
}

fn validate_chunks(
    cx: &Ctx<'_>,
    header: &FileHeader,
    g: &Graph,
    limits: &Limits,
) -> Result<(), FormatError> {
    let s = SectionKind::Chunks;
    let e = |kind, msg: String| cx.err(kind, s, msg);
    if g.arena_size > limits.max_arena {
        return Err(e(
            ErrorKind::LimitExceeded,
            format!(
                "arena size {} exceeds the limit {}",
                g.arena_size, limits.max_arena
            ),
        ));
    }
    let w_start = header.weights_offset();
    let total = header.total_len;
    let (mut file_end, mut arena_end) = (w_start, 0u64);
    for (ci, c) in g.chunks.iter().enumerate() {
        if c.decoded_len > limits.max_chunk_decoded {
            return Err(e(
                ErrorKind::LimitExceeded,
                format!(
                    "chunk {ci} decodes to {} bytes, the limit is {}",
                    c.decoded_len, limits.max_chunk_decoded
                ),
            ));
        }
        if c.codec == Codec::Stored && c.stored_len != c.decoded_len {
            return Err(e(
                ErrorKind::Inconsistent,
                format!(
                    "stored chunk {ci} has stored length {} but decoded length {}",
                    c.stored_len, c.decoded_len
                ),
            ));
        }
        if c.file_offset % 64 != 0 || c.arena_offset % 64 != 0 {
            return Err(e(
                ErrorKind::Misaligned,
                format!(
                    "chunk {ci}: file offset {} / arena offset {} not 64-byte aligned",
                    c.file_offset, c.arena_offset
                ),
            ));
        }
        if c.file_offset < file_end {
            return Err(e(
                ErrorKind::Overlap,
                format!(
                    "chunk {ci} starts at file offset {} before {file_end}",
                    c.file_offset
                ),
            ));
        }
        match c.file_offset.checked_add(c.stored_len) {
            Some(end) if end <= total => file_end = end,
            _ => {
                return Err(e(
                    ErrorKind::OutOfBounds,
                    format!(
                        "chunk {ci} at {}+{} runs past the end of the file ({total})",
                        c.file_offset, c.stored_len
                    ),
                ))
            }
        }
        if c.arena_offset < arena_end {
            return Err(e(
                ErrorKind::Overlap,
                format!(
                    "chunk {ci} arena slot starts at {} before {arena_end}",
                    c.arena_offset
                ),
            ));
        }
        match c.arena_offset.checked_add(c.decoded_len) {
            Some(end) if end <= g.arena_size => arena_end = end,
            _ => {
                return Err(e(
                    ErrorKind::OutOfBounds,
                    format!(
                        "chunk {ci} arena slot {}+{} runs past the arena size {}",
                        c.arena_offset, c.decoded_len, g.arena_size
                    ),
                ))
            }
        }
    }
    // arena_end <= arena_size <= max_arena, so align64 cannot overflow.
    let tight = align64(arena_end).unwrap_or(u64::MAX);
    if g.arena_size != tight {
        return Err(e(
            ErrorKind::Inconsistent,
            format!(
                "arena size {} != the last slot's end rounded up to 64 ({tight})",
                g.arena_size
            ),
        ));
    }
    Ok(())
}

fn validate_tensors(cx: &Ctx<'_>, g: &Graph) -> Result<(), FormatError> {
    let s = SectionKind::Tensors;
    for (ti, t) in g.tensors.iter().enumerate() {
        let e = |kind, msg: String| cx.err(kind, s, format!("tensor {ti} ({}): {msg}", t.name));
        match &t.quantization {
            Quantization::None => {
                let ok =
                    t.stored_dtype == t.dtype || (t.dtype.is_float() && t.stored_dtype.is_float());
                if !ok {
                    return Err(e(
                        ErrorKind::Inconsistent,
                        format!(
                            "{} stored as {} without quantization",
                            t.dtype.name(),
                            t.stored_dtype.name()
                        ),
                    ));
                }
            }
            Quantization::GroupInt4 { group, .. } | Quantization::GroupInt8 { group } => {
                let kind = match t.quantization {
                    Quantization::GroupInt8 { .. } => "int8",
                    _ => "int4",
                };
                if !t.dtype.is_float() || t.stored_dtype != DType::U8 {
                    return Err(e(
                        ErrorKind::Inconsistent,
                        format!(
                            "group-wise {kind} tensors must be float stored as u8, not {} as {}",
                            t.dtype.name(),
                            t.stored_dtype.name()
                        ),
                    ));
                }
                let last = t.shape.last().copied();
                let ok_group = group % 32 == 0
                    && (crate::model::INT4_GROUP_MIN..=crate::model::INT4_GROUP_MAX)
                        .contains(group);
                if !ok_group || last.is_none_or(|d| d % u64::from(*group) != 0) {
                    return Err(e(
                        ErrorKind::Inconsistent,
                        format!(
                            "{kind} group size {group} must be a multiple of 32 in 32..=256 \
                             dividing the last dimension ({})",
                            last.map_or("rank 0".into(), |d| d.to_string())
                        ),
                    ));
                }
            }
            q => {
                if !t.dtype.is_float() || !matches!(t.stored_dtype, DType::I8 | DType::U8) {
                    return Err(e(
                        ErrorKind::Inconsistent,
                        format!(
                            "quantized tensors must be float stored as i8/u8, not {} as {}",
                            t.dtype.name(),
                            t.stored_dtype.name()
                        ),
                    ));
                }
                if let Quantization::PerTensor { scale, .. } = q {
                    if !scale.is_finite() {
                        return Err(e(
                            ErrorKind::Inconsistent,
                            format!("scale {scale} is not finite"),
                        ));
                    }
                }
                if let Quantization::PerChannel {
                    axis,
                    scales,
                    zero_points,
                } = q
                {
                    let Some(&n) = t.shape.get(*axis as usize) else {
                        return Err(e(
                            ErrorKind::IndexOutOfRange,
                            format!("channel axis {axis} >= rank {}", t.shape.len()),
                        ));
                    };
                    if scales.len() as u64 != n || zero_points.len() as u64 != n {
                        return Err(e(
                            ErrorKind::Inconsistent,
                            format!(
                                "{} scales / {} zero points for {n} channels",
                                scales.len(),
                                zero_points.len()
                            ),
                        ));
                    }
                    if let Some(bad) = scales.iter().find(|s| !s.is_finite()) {
                        return Err(e(
                            ErrorKind::Inconsistent,
                            format!("scale {bad} is not finite"),
                        ));
                    }
                }
            }
        }
        let want = match t.quantization {
            Quantization::GroupInt4 { .. } | Quantization::GroupInt8 { .. } => {
                t.quantization.stored_nbytes(&t.shape, t.stored_dtype)
            }
            _ => byte_len(&t.shape, t.stored_dtype.size()),
        };
        match want {
            Some(n) if n == t.nbytes => {}
            n => {
                return Err(e(
                    ErrorKind::Inconsistent,
                    format!(
                        "nbytes {} != the stored size of its shape ({})",
                        t.nbytes,
                        n.map_or("overflow".into(), |n| n.to_string())
                    ),
                ))
            }
        }
        let Some(c) = g.chunks.get(t.chunk as usize) else {
            return Err(e(
                ErrorKind::IndexOutOfRange,
                format!("chunk {} >= {} chunks", t.chunk, g.chunks.len()),
            ));
        };
        if t.offset % 64 != 0 {
            return Err(e(
                ErrorKind::Misaligned,
                format!("offset {} not 64-byte aligned", t.offset),
            ));
        }
        match t.offset.checked_add(t.nbytes) {
            Some(end) if end <= c.decoded_len => {}
            _ => {
                return Err(e(
                    ErrorKind::OutOfBounds,
                    format!(
                        "bytes {}+{} run past chunk {} ({} bytes)",
                        t.offset, t.nbytes, t.chunk, c.decoded_len
                    ),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Function;

    /// `f(x) = op0(x)`, with the op table `ops`.
    fn one_call(ops: Vec<String>, op: u32) -> Graph {
        Graph {
            ops,
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 2,
                params: vec![0],
                register_names: vec![],
                code: vec![
                    Instr::CallOp {
                        op,
                        args: vec![Operand::Reg(0)],
                        outputs: vec![1],
                    },
                    Instr::Return {
                        values: vec![Operand::Reg(1)],
                    },
                ],
            }],
            signature: crate::model::Signature {
                inputs: vec![crate::model::ValueSpec {
                    name: "x".into(),
                    dtype: DType::F32,
                    shape: vec![],
                }],
                outputs: vec![crate::model::ValueSpec {
                    name: "y".into(),
                    dtype: DType::F32,
                    shape: vec![],
                }],
            },
            ..Graph::default()
        }
    }

    #[test]
    fn bytecode_checks_need_no_file() {
        let limits = Limits::default();
        let ok = one_call(vec!["aten::relu.default".into()], 0);
        assert!(validate_bytecode(&ok, &limits).is_ok());
        let e = validate_bytecode(&one_call(vec![], 0), &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::IndexOutOfRange);
        let mut bad_reg = ok.clone();
        bad_reg.functions[0].num_registers = 1;
        let e = validate_bytecode(&bad_reg, &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::IndexOutOfRange);
        let mut no_return = ok;
        no_return.functions[0].code.pop();
        let e = validate_bytecode(&no_return, &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Inconsistent);
    }
}
