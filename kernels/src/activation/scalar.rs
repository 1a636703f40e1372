//! Portable scalar definitions of the transcendental functions: the reference formulas
//! that the SIMD versions in [`crate::arch`] reproduce lane by lane.

/// Constants shared by every implementation so all of them compute the same formula.
#[allow(clippy::excessive_precision)] // published coefficients, kept as printed
pub(crate) mod c {
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    /// ln 2 split in a high part exactly representable with few bits and a low correction.
    pub const LN2_HI: f32 = 0.693_359_4;
    pub const LN2_LO: f32 = -2.121_944_4e-4;
    /// exp input clamp: above `EXP_HI` the result is +inf, below `EXP_LO` it is 0.
    pub const EXP_HI: f32 = 88.8;
    pub const EXP_LO: f32 = -104.0;
    pub const EXP_P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ];
    pub const TANH_SMALL: f32 = 0.625;
    pub const TANH_P: [f32; 5] = [
        -5.704_988_7e-3,
        2.063_908_9e-2,
        -5.373_971_6e-2,
        1.333_144_2e-1,
        -3.333_328_2e-1,
    ];
    /// Above this |x|, erf(x) rounds to ±1 in f32 (erfc(3.92) < 3e-8): return ±1 exactly.
    pub const ERF_ONE: f32 = 3.92;
    /// Odd numerator coefficients alpha_13 .. alpha_1 (highest power first).
    pub const ERF_A: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    /// Even denominator coefficients beta_8 .. beta_0.
    pub const ERF_B: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329e-3,
        -1.426_473_9e-2,
    ];
    pub const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    pub const LOG_P: [f32; 9] = [
        7.037_683_6e-2,
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_4e-1,
        -2.499_999_4e-1,
        3.333_333_1e-1,
    ];
    /// sqrt(2/pi) for the tanh form of GELU.
    pub const GELU_K0: f32 = 0.797_884_6;
    pub const GELU_K1: f32 = 0.044_715;
}

#[inline(always)]
fn horner(x: f32, coef: &[f32]) -> f32 {
    let mut p = coef[0];
    for &k in &coef[1..] {
        p = p * x + k;
    }
    p
}

/// `e^x`.
#[inline]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(c::EXP_LO, c::EXP_HI); // NaN stays NaN
                                           // floor(t) via truncation (t is within [-150, 129] after the clamp): `f32::floor` is a
                                           // libm call on baseline x86_64, which has no SSE4.1 `roundps`.
    let t = x * c::LOG2E + 0.5;
    let ti = t as i32 as f32; // NaN → 0; the NaN still propagates through `r` below.
    let n = if ti > t { ti - 1.0 } else { ti };
    let r = x - n * c::LN2_HI;
    let r = r - n * c::LN2_LO;
    let p = horner(r, &c::EXP_P);
    let y = p * (r * r) + r + 1.0;
    // 2^n as two normal factors so that n in [-150, 128] needs no special case.
    let ni = n as i32;
    let n1 = ni >> 1;
    let n2 = ni - n1;
    y * f32::from_bits(((n1 + 127) as u32) << 23) * f32::from_bits(((n2 + 127) as u32) << 23)
}

/// `tanh(x)`.
#[inline]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    if a < c::TANH_SMALL {
        let z = x * x;
        x + x * z * horner(z, &c::TANH_P)
    } else {
        let e = exp(2.0 * a);
        let t = 1.0 - 2.0 / (e + 1.0);
        t.copysign(x)
    }
}

/// `erf(x)`: an odd rational function of `x` for |x| < 3.92, exactly ±1 beyond.
#[inline]
pub fn erf(x: f32) -> f32 {
    let xc = x.clamp(-c::ERF_ONE, c::ERF_ONE);
    let z = xc * xc;
    let p = xc * horner(z, &c::ERF_A);
    let q = horner(z, &c::ERF_B);
    if x.abs() >= c::ERF_ONE {
        1f32.copysign(x)
    } else {
        p / q
    }
}

/// `1 / (1 + e^-x)`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Natural logarithm.
#[inline]
pub fn log(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x == f32::INFINITY {
        return x;
    }
    let (x, bias) = if x < f32::MIN_POSITIVE {
        (x * 8_388_608.0, 23) // 2^23: make subnormals normal
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126 - bias;
    let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let m = if m < c::SQRT_HALF {
        e -= 1;
        m + m - 1.0
    } else {
        m - 1.0
    };
    let z = m * m;
    let fe = e as f32;
    let mut y = horner(m, &c::LOG_P) * m * z;
    y += c::LN2_LO * fe;
    y += -0.5 * z;
    let r = m + y;
    r + c::LN2_HI * fe
}

/// Slice versions used by the portable kernel set.
pub(crate) fn exp_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = exp(*v));
}
pub(crate) fn tanh_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = tanh(*v));
}
pub(crate) fn erf_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = erf(*v));
}
pub(crate) fn sigmoid_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = sigmoid(*v));
}
pub(crate) fn log_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = log(*v));
}
pub(crate) fn silu_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v *= sigmoid(*v));
}
pub(crate) fn gelu_slice(x: &mut [f32]) {
    x.iter_mut()
        .for_each(|v| *v = 0.5 * *v * (1.0 + erf(*v * c::SQRT_HALF)));
}
pub(crate) fn gelu_tanh_slice(x: &mut [f32]) {
    x.iter_mut().for_each(|v| {
        let u = c::GELU_K0 * (*v + c::GELU_K1 * *v * *v * *v);
        *v = 0.5 * *v * (1.0 + tanh(u));
    });
}
