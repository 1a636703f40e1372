//! Linear algebra: matrix products on the GEMM kernel (`matmul`), and the dense
//! factorizations PyTorch's `torch.linalg` lowers to, computed in f64 on contiguous copies
//! (`dense`) and returned in the input's float dtype: LU and what is built on it (`lu`),
//! triangular solves and Cholesky (`triangular`), Householder QR (`qr`), Jacobi
//! eigen/singular value decompositions (`spectral`), Bunch-Kaufman LDLᵀ (`ldl`) and the
//! matrix exponential (`exp`).

mod dense;
mod exp;
mod ldl;
mod lu;
mod matmul;
mod qr;
mod spectral;
mod triangular;

pub(crate) use matmul::{matmul, mm2d};

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    matmul::register(r);
    lu::register(r);
    triangular::register(r);
    qr::register(r);
    spectral::register(r);
    exp::register(r);
    ldl::register(r);
}

#[cfg(test)]
mod tests;
