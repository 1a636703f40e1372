//! Bit-exact equality of parsed graphs, for checking that two readers (or a writer and a
//! reader) agree on what a file holds.
//!
//! The model types derive `PartialEq`, which compares floats as IEEE values: NaN differs
//! from itself and `-0.0` equals `+0.0`. That is the right meaning where a constant is a
//! *value* (the packer's IR, `quantization != Quantization::None`, a test comparing against
//! `ConstValue::Float(2.5)`), so the derives stay. It is the wrong meaning for "these are the
//! same file contents": a `.wtb` file may hold any f32/f64 bit pattern and readers must keep
//! it (SPEC.md §2), so a graph with a NaN constant never `==` itself, and a reader that lost
//! the sign of a zero or a NaN payload would still compare equal. [`BitEq`] compares every
//! float by its bit pattern (`to_bits`) and everything else with `==`.
//!
//! Why a trait over the model rather than comparing canonical re-encodings of both graphs:
//! the writer computes some fields instead of copying them (version, chunk file offsets,
//! stored lengths, CRCs), so a re-encoding compare would not see two readers disagree there;
//! it would also cost an encode per fuzz execution and report a mismatch as differing bytes
//! rather than differing values. The impls below destructure every struct and name every enum
//! variant without wildcards, so adding a field or variant to the model fails to compile here
//! until its comparison is decided — the check cannot silently skip new data.

use crate::model::{ConstValue, Graph, Quantization, Scalar, ScalarInput, TensorInfo};

/// Equality under which floats are equal exactly when their bit patterns are (so NaN equals
/// a NaN with the same payload, and `-0.0` differs from `+0.0`). Use it, or
/// [`assert_bit_eq!`](crate::assert_bit_eq), to check that parsed graphs agree.
pub trait BitEq {
    /// True when `self` and `other` hold the same data, floats compared bit for bit.
    fn bit_eq(&self, other: &Self) -> bool;
}

impl BitEq for f32 {
    fn bit_eq(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl BitEq for f64 {
    fn bit_eq(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl<T: BitEq> BitEq for [T] {
    fn bit_eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.bit_eq(b))
    }
}

impl<T: BitEq> BitEq for Vec<T> {
    fn bit_eq(&self, other: &Self) -> bool {
        self.as_slice().bit_eq(other.as_slice())
    }
}

impl BitEq for ConstValue {
    fn bit_eq(&self, other: &Self) -> bool {
        use ConstValue as C;
        match (self, other) {
            (C::Float(a), C::Float(b)) => a.bit_eq(b),
            (C::Floats(a), C::Floats(b)) => a.bit_eq(b),
            (C::List(a), C::List(b)) => a.bit_eq(b),
            // No floats below these (an inline tensor holds raw bytes): `==` is exact.
            (C::None, C::None) => true,
            (C::Bool(a), C::Bool(b)) => a == b,
            (C::Int(a), C::Int(b)) => a == b,
            (C::Str(a), C::Str(b)) => a == b,
            (C::Ints(a), C::Ints(b)) => a == b,
            (C::Tensor(a), C::Tensor(b)) => a == b,
            (
                C::None
                | C::Bool(_)
                | C::Int(_)
                | C::Float(_)
                | C::Str(_)
                | C::Ints(_)
                | C::Floats(_)
                | C::List(_)
                | C::Tensor(_),
                _,
            ) => false,
        }
    }
}

impl BitEq for Quantization {
    fn bit_eq(&self, other: &Self) -> bool {
        use Quantization as Q;
        match (self, other) {
            (Q::None, Q::None) => true,
            (
                Q::PerTensor { scale, zero_point },
                Q::PerTensor {
                    scale: scale2,
                    zero_point: zero_point2,
                },
            ) => scale.bit_eq(scale2) && zero_point == zero_point2,
            (
                Q::PerChannel {
                    axis,
                    scales,
                    zero_points,
                },
                Q::PerChannel {
                    axis: axis2,
                    scales: scales2,
                    zero_points: zero_points2,
                },
            ) => axis == axis2 && scales.bit_eq(scales2) && zero_points == zero_points2,
            (a @ Q::GroupInt4 { .. }, b @ Q::GroupInt4 { .. }) => a == b,
            (Q::GroupInt8 { group }, Q::GroupInt8 { group: group2 }) => group == group2,
            (
                Q::None
                | Q::PerTensor { .. }
                | Q::PerChannel { .. }
                | Q::GroupInt4 { .. }
                | Q::GroupInt8 { .. },
                _,
            ) => false,
        }
    }
}

impl BitEq for TensorInfo {
    fn bit_eq(&self, other: &Self) -> bool {
        let TensorInfo {
            name,
            dtype,
            shape,
            layout,
            stored_dtype,
            quantization,
            chunk,
            offset,
            nbytes,
        } = self;
        *name == other.name
            && *dtype == other.dtype
            && *shape == other.shape
            && *layout == other.layout
            && *stored_dtype == other.stored_dtype
            && quantization.bit_eq(&other.quantization)
            && *chunk == other.chunk
            && *offset == other.offset
            && *nbytes == other.nbytes
    }
}

impl BitEq for ScalarInput {
    fn bit_eq(&self, other: &Self) -> bool {
        self.input == other.input
            && self.kind == other.kind
            && self.fixed == other.fixed
            && match (&self.default, &other.default) {
                (Some(Scalar::Float(a)), Some(Scalar::Float(b))) => a.to_bits() == b.to_bits(),
                (a, b) => a == b,
            }
    }
}

impl BitEq for Graph {
    fn bit_eq(&self, other: &Self) -> bool {
        // Metadata, signature, ops, functions and chunks hold no floats: `==` is exact there.
        let Graph {
            version,
            metadata,
            signature,
            ops,
            functions,
            constants,
            tensors,
            chunks,
            arena_size,
            states,
            scalar_inputs,

            assets,
        } = self;
        *version == other.version
            && *metadata == other.metadata
            && *signature == other.signature
            && *ops == other.ops
            && *functions == other.functions
            && constants.bit_eq(&other.constants)
            && tensors.bit_eq(&other.tensors)
            && *chunks == other.chunks
            && *arena_size == other.arena_size
            // State entries hold names, shapes and tensor indices only (`Eq`).
            && *states == other.states
            && scalar_inputs.bit_eq(&other.scalar_inputs)

            // Assets are bytes and names (`Eq`).
            && *assets == other.assets
    }
}

/// Assert that two values are equal under [`BitEq`] (floats bit for bit); on failure panic
/// with both values' `Debug` forms and an optional message, like `assert_eq!`.
///
/// `Debug` prints every NaN as `NaN`, so when the printed values look identical the
/// difference is a NaN payload or the sign of a NaN.
#[macro_export]
macro_rules! assert_bit_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::assert_bit_eq!($left, $right, "values differ")
    };
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if !$crate::BitEq::bit_eq(left, right) {
                    panic!(
                        "assertion `left.bit_eq(right)` failed: {}\n  left: {:?}\n right: {:?}",
                        format_args!($($msg)+),
                        left,
                        right
                    );
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InlineTensor, Layout};
    use crate::DType;

    const PAYLOAD_NAN: f64 = f64::from_bits(0x7ff0_0000_dead_beef);

    #[test]
    fn floats_compare_by_bits() {
        assert!(f64::NAN.bit_eq(&f64::NAN));
        assert!(!f64::NAN.bit_eq(&PAYLOAD_NAN));
        assert!(!f64::NAN.bit_eq(&-f64::NAN));
        assert!(!0.0f64.bit_eq(&-0.0));
        assert!(f64::INFINITY.bit_eq(&f64::INFINITY));
        assert!(!f64::INFINITY.bit_eq(&f64::NEG_INFINITY));
        assert!(f32::NAN.bit_eq(&f32::NAN));
        assert!(!0.0f32.bit_eq(&-0.0));
        assert!(1.5f32.bit_eq(&1.5));
    }

    #[test]
    fn constants_compare_floats_by_bits_at_any_depth() {
        let c = ConstValue::List(vec![
            ConstValue::Int(1),
            ConstValue::List(vec![ConstValue::Floats(vec![f64::NAN, -0.0])]),
            ConstValue::Float(PAYLOAD_NAN),
        ]);
        assert_ne!(c, c.clone(), "IEEE equality: NaN != NaN");
        assert!(c.bit_eq(&c.clone()));
        let mut zero = c.clone();
        let ConstValue::List(items) = &mut zero else {
            unreachable!()
        };
        items[1] = ConstValue::List(vec![ConstValue::Floats(vec![f64::NAN, 0.0])]);
        assert!(!c.bit_eq(&zero), "-0.0 and +0.0 differ");
        let mut payload = c.clone();
        let ConstValue::List(items) = &mut payload else {
            unreachable!()
        };
        items[2] = ConstValue::Float(f64::NAN);
        assert!(!c.bit_eq(&payload), "NaN payloads differ");
        assert!(!ConstValue::Floats(vec![1.0]).bit_eq(&ConstValue::Floats(vec![1.0, 1.0])));
        assert!(!ConstValue::Int(0).bit_eq(&ConstValue::Float(0.0)));
        assert!(!ConstValue::None.bit_eq(&ConstValue::List(vec![])));
        let t = ConstValue::Tensor(InlineTensor {
            dtype: DType::F32,
            shape: vec![1],
            data: f32::NAN.to_le_bytes().to_vec(),
        });
        assert!(t.bit_eq(&t.clone()));
    }

    #[test]
    fn tensors_compare_scales_by_bits() {
        let t = TensorInfo {
            name: "w".into(),
            dtype: DType::F32,
            shape: vec![2],
            layout: Layout::Contiguous,
            stored_dtype: DType::I8,
            quantization: Quantization::PerChannel {
                axis: 0,
                scales: vec![0.5, -0.0],
                zero_points: vec![0, 0],
            },
            chunk: 0,
            offset: 0,
            nbytes: 2,
        };
        let mut u = t.clone();
        u.quantization = Quantization::PerChannel {
            axis: 0,
            scales: vec![0.5, 0.0],
            zero_points: vec![0, 0],
        };
        assert_eq!(t, u, "IEEE equality cannot see the sign of zero");
        assert!(!t.bit_eq(&u));
        assert!(t.bit_eq(&t.clone()));
        let mut g = Graph {
            tensors: vec![t.clone()],
            ..Graph::default()
        };
        let g2 = g.clone();
        assert!(g.bit_eq(&g2));
        g.tensors[0].quantization = Quantization::PerTensor {
            scale: -0.0,
            zero_point: 0,
        };
        assert!(!g.bit_eq(&g2));
    }

    #[test]
    #[should_panic(expected = "left.bit_eq(right)")]
    fn assert_bit_eq_panics_on_a_difference() {
        assert_bit_eq!(ConstValue::Float(0.0), ConstValue::Float(-0.0));
    }

    #[test]
    fn assert_bit_eq_accepts_nan() {
        assert_bit_eq!(ConstValue::Float(f64::NAN), ConstValue::Float(f64::NAN));
        assert_bit_eq!(vec![f32::NAN], vec![f32::NAN], "with a message {}", 1);
    }
}
