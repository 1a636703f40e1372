//! Random tensors: `rand`, `randn`, `randperm`.
//!
//! PyTorch's generator (a Mersenne Twister with its own transforms) is not reproduced, so
//! values never match PyTorch's; shapes, dtypes, ranges and distributions do. The source is
//! a counter-based SplitMix64 stream: the `k`-th 64-bit draw of a stream with seed `s` is
//! `mix(s + (k + 1) * 0x9E3779B97F4A7C15)` with SplitMix64's finaliser `mix`, so a draw
//! depends only on (seed, position) — no hidden state beyond one counter, identical on
//! every platform (wasm included).
//!
//! Seeding policy: every `Session` owns one stream, starting at [`DEFAULT_SEED`] (so a fresh
//! session is deterministic and reproducible), advancing across ops and across `run`
//! calls; `Session::set_seed` restarts it from another seed.
//!
//! - `rand`: uniform on [0, 1): the top 24 (f32), 53 (f64), 11 (f16) or 8 (bf16) bits of a
//!   draw scaled by 2^-bits, so 1.0 is never produced even after rounding to the dtype.
//! - `randn`: standard normal by the Box–Muller transform in f64 (two draws give two
//!   values).
//! - `randperm`: Fisher–Yates shuffle of 0..n with unbiased bounded integers (Lemire's
//!   multiply-and-reject).

use super::{iarg, opt, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::storage::{try_alloc, MAX_TENSOR_BYTES};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// The seed every session starts from.
pub const DEFAULT_SEED: u64 = 0x5EED_CAFE_F00D_0001;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (a bijective 64-bit mixer).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A counter-based random stream (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    seed: u64,
    counter: u64,
}

impl Default for Rng {
    fn default() -> Self {
        Rng::new(DEFAULT_SEED)
    }
}

impl Rng {
    /// A stream starting at position 0 of `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { seed, counter: 0 }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix(self.seed.wrapping_add(self.counter.wrapping_mul(GAMMA)))
    }

    /// Uniform in [0, bound) without modulo bias (Lemire's method); `bound` > 0.
    fn below(&mut self, bound: u64) -> u64 {
        let mut m = u128::from(self.next_u64()) * u128::from(bound);
        if (m as u64) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform f64 in [0, 1) from the top `bits` bits of a draw.
    fn unit(&mut self, bits: u32) -> f64 {
        (self.next_u64() >> (64 - bits)) as f64 * (-(bits as f64)).exp2()
    }
}

/// The shape argument, checked so the result fits in memory as `dtype`.
fn shape_arg(args: &[Value], dtype: DType) -> Result<Vec<usize>> {
    let shape = super::ints(args, 0)?
        .into_iter()
        .map(|d| to_usize(d, "size"))
        .collect::<Result<Vec<_>>>()?;
    let n = checked_numel(&shape)?;
    if n.saturating_mul(dtype.size().max(8)) > MAX_TENSOR_BYTES {
        return Err(Error::oom(format!(
            "random tensor of shape {shape:?} is too large"
        )));
    }
    Ok(shape)
}

/// The float dtype argument at `i` (default float32).
fn float_dtype(args: &[Value], i: usize, op: &str) -> Result<DType> {
    let dt = opt(args, i).as_opt_dtype()?.unwrap_or(DType::F32);
    if !dt.is_float() {
        return Err(Error::runtime(format!(
            "{op}: dtype must be floating point, got {}",
            dt.name()
        )));
    }
    Ok(dt)
}

/// rand(size, dtype, layout, device, pin_memory)
fn rand(rng: &mut Rng, args: &[Value]) -> Result<Vec<Value>> {
    let dt = float_dtype(args, 1, "rand")?;
    let shape = shape_arg(args, dt)?;
    let n = checked_numel(&shape)?;
    let bits = match dt {
        DType::F64 => 53,
        DType::F16 => 11,
        DType::BF16 => 8,
        _ => 24,
    };
    let mut v = try_alloc::<f64>(n)?;
    v.iter_mut().for_each(|x| *x = rng.unit(bits));
    Ok(vec![Tensor::from_f64_as(dt, shape, v).into()])
}

/// randn(size, dtype, layout, device, pin_memory)
fn randn(rng: &mut Rng, args: &[Value]) -> Result<Vec<Value>> {
    let dt = float_dtype(args, 1, "randn")?;
    let shape = shape_arg(args, dt)?;
    let n = checked_numel(&shape)?;
    let mut v = try_alloc::<f64>(n)?;
    for pair in v.chunks_mut(2) {
        // u1 in (0, 1] so ln(u1) is finite
        let u1 = ((rng.next_u64() >> 11) + 1) as f64 * (-53f64).exp2();
        let u2 = rng.unit(53);
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        pair[0] = r * c;
        if let Some(x) = pair.get_mut(1) {
            *x = r * s;
        }
    }
    Ok(vec![Tensor::from_f64_as(dt, shape, v).into()])
}

/// Largest n for which 0..n is exact in `dt`.
fn perm_limit(dt: DType) -> u64 {
    match dt {
        DType::U8 => 1 << 8,
        DType::I8 => 1 << 7,
        DType::I16 => 1 << 15,
        DType::I32 => 1 << 31,
        DType::F16 => 1 << 11,
        DType::BF16 => 1 << 8,
        DType::F32 | DType::C64 => 1 << 24,
        DType::Bool => 2,
        DType::I64 | DType::F64 => u64::MAX,
    }
}

/// randperm(n, dtype=int64, layout, device, pin_memory)
fn randperm(rng: &mut Rng, args: &[Value]) -> Result<Vec<Value>> {
    let n = to_usize(iarg(args, 0)?, "randperm n")?;
    let dt = opt(args, 1).as_opt_dtype()?.unwrap_or(DType::I64);
    if n as u64 > perm_limit(dt) {
        return Err(Error::runtime(format!(
            "randperm: n = {n} is too large for {}",
            dt.name()
        )));
    }
    if n.saturating_mul(8) > MAX_TENSOR_BYTES {
        return Err(Error::oom(format!("randperm of {n} elements is too large")));
    }
    let mut v = try_alloc::<i64>(n)?;
    v.iter_mut().enumerate().for_each(|(i, x)| *x = i as i64);
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    Ok(vec![Tensor::from_i64_as(dt, vec![n], v).into()])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::rand.default" => |c: &mut OpCtx, a: Vec<Value>| rand(&mut c.rng, &a),
        "aten::randn.default" => |c: &mut OpCtx, a: Vec<Value>| randn(&mut c.rng, &a),
        "aten::randperm.default" => |c: &mut OpCtx, a: Vec<Value>| randperm(&mut c.rng, &a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::il;

    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
    }

    #[test]
    fn streams_are_deterministic_and_seeded() {
        let (mut a, mut b) = (Rng::default(), Rng::default());
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = Rng::new(1);
        assert_ne!(xs[0], c.next_u64());
        // a fresh context starts at the default seed; successive calls advance
        let mut ctx = OpCtx::default();
        let f = lookup("aten::rand.default").unwrap();
        let r1 = f(&mut ctx, vec![il(&[8])]).unwrap()[0]
            .as_tensor()
            .unwrap()
            .to_f32_vec();
        let r2 = f(&mut ctx, vec![il(&[8])]).unwrap()[0]
            .as_tensor()
            .unwrap()
            .to_f32_vec();
        let r1b = f(&mut OpCtx::default(), vec![il(&[8])]).unwrap()[0]
            .as_tensor()
            .unwrap()
            .to_f32_vec();
        assert_eq!(r1, r1b);
        assert_ne!(r1, r2);
    }

    #[test]
    fn uniform_and_normal_statistics() {
        let mut ctx = OpCtx::default();
        let n = 200_000usize;
        for dt in [6i64, 7, 5, 15] {
            let r = rand(&mut ctx.rng, &[il(&[n as i64]), Value::Int(dt)]).unwrap();
            let t = r[0].as_tensor().unwrap();
            let v = t.f64s().unwrap();
            assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)), "dtype {dt}");
            let (m, var) = mean_var(&v);
            // uniform: mean 1/2, variance 1/12; standard error of the mean ~ 6.5e-4
            assert!((m - 0.5).abs() < 5e-3, "dtype {dt}: mean {m}");
            assert!((var - 1.0 / 12.0).abs() < 3e-3, "dtype {dt}: var {var}");
        }
        let r = randn(&mut ctx.rng, &[il(&[n as i64 + 1]), Value::None]).unwrap();
        let v = r[0].as_tensor().unwrap().f64s().unwrap();
        let (m, var) = mean_var(&v);
        assert!(m.abs() < 1e-2 && (var - 1.0).abs() < 2e-2, "{m} {var}");
        let within1 = v.iter().filter(|x| x.abs() < 1.0).count() as f64 / v.len() as f64;
        assert!((within1 - 0.6827).abs() < 5e-3, "{within1}");
        assert!(rand(&mut ctx.rng, &[il(&[2]), Value::Int(4)]).is_err());
        assert!(rand(&mut ctx.rng, &[il(&[1 << 40, 1 << 40])]).is_err());
    }

    #[test]
    fn randperm_is_an_unbiased_permutation() {
        let mut rng = Rng::default();
        for n in [0i64, 1, 2, 17, 1000] {
            let r = randperm(&mut rng, &[Value::Int(n), Value::None]).unwrap();
            let mut v = r[0].as_tensor().unwrap().to_i64_vec();
            assert_eq!(r[0].as_tensor().unwrap().dtype(), DType::I64);
            v.sort_unstable();
            assert_eq!(v, (0..n).collect::<Vec<_>>());
        }
        // each of the 6 permutations of 3 appears ~1/6 of the time
        let mut counts = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let r = randperm(&mut rng, &[Value::Int(3), Value::None]).unwrap();
            *counts
                .entry(r[0].as_tensor().unwrap().to_i64_vec())
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 6);
        assert!(
            counts.values().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
        assert!(randperm(&mut rng, &[Value::Int(300), Value::Int(0)]).is_err());
        assert!(randperm(&mut rng, &[Value::Int(-1)]).is_err());
        assert!(randperm(&mut rng, &[Value::Int(1 << 40)]).is_err());
    }
}
