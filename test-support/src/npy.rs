//! NumPy `.npy` (format version 1.0) writers for test inputs and expected outputs.
//!
//! Written independently of `wasm_torch_interp::npy`, so a test that reads these files with
//! the interpreter's reader checks it against a second implementation.

/// The `.npy` bytes of little-endian `data` with NumPy type string `descr` (e.g. `<f4`,
/// `<i8`, `|u1`) and `shape`, in C order.
pub fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    // A one-element tuple needs its trailing comma: `(3,)`.
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    // magic (6) + version (2) + header length (2) + header is padded to a multiple of 64
    // and ends in '\n', as NumPy writes it.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// An f32 `.npy`.
pub fn f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    encode("<f4", shape, &crate::f32_bytes(values))
}

/// A complex64 (`<c8`) `.npy` of interleaved (real, imaginary) pairs.
pub fn c64(shape: &[usize], pairs: &[f32]) -> Vec<u8> {
    encode("<c8", shape, &crate::f32_bytes(pairs))
}

/// An i64 `.npy`.
pub fn i64(shape: &[usize], values: &[i64]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    encode("<i8", shape, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_and_describes_the_array() {
        let b = f32(&[2, 3], &[0.0; 6]);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(b.len(), 10 + hlen + 24);
    }

    #[test]
    fn one_and_zero_dimensional_shapes_are_python_tuples() {
        let one = i64(&[3], &[1, 2, 3]);
        assert!(String::from_utf8_lossy(&one).contains("'shape': (3,)"));
        let scalar = f32(&[], &[1.5]);
        assert!(String::from_utf8_lossy(&scalar).contains("'shape': ()"));
    }
}
