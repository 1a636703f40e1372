//! NumPy `.npy` reading/writing and `.npz` (stored zip) writing, for the CLI's
//! `run --input x.npy --output out.npz` and for tests.

use crate::error::{Error, Result};
use crate::tensor::{checked_numel, DType, Tensor};

const MAGIC: &[u8] = b"\x93NUMPY";

fn descr(d: DType) -> &'static str {
    match d {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::BF16 => "<V2",
        DType::I64 => "<i8",
        DType::I32 => "<i4",
        DType::I16 => "<i2",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::Bool => "|b1",
        DType::C64 => "<c8",
    }
}

fn parse_descr(s: &str) -> Option<DType> {
    Some(match s {
        "<f4" | "f4" => DType::F32,
        "<f8" | "f8" => DType::F64,
        "<f2" | "f2" => DType::F16,
        "<i8" | "i8" => DType::I64,
        "<i4" | "i4" => DType::I32,
        "<i2" | "i2" => DType::I16,
        "|i1" | "i1" | "<i1" => DType::I8,
        "|u1" | "u1" | "<u1" => DType::U8,
        "|b1" | "b1" | "?" | "|?" => DType::Bool,
        "<c8" | "c8" => DType::C64,
        _ => return None,
    })
}

fn bad(msg: impl Into<String>) -> Error {
    Error::invalid_input(format!("npy: {}", msg.into()))
}

/// Value of `'key': <value>` inside the header dict (value up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("'{key}':");
    let start = header.find(&pat)? + pat.len();
    let rest = header[start..].trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        Some(&rest[..=end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

/// Parse a `.npy` file (versions 1-3, little-endian, C order).
pub fn read_npy(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (bad magic)"));
    }
    let major = bytes[6];
    let (hlen, hstart): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(format!("unsupported version {v}"))),
    };
    let hend = hstart
        .checked_add(hlen)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| bad("truncated header"))?;
    let header =
        std::str::from_utf8(&bytes[hstart..hend]).map_err(|_| bad("header is not UTF-8"))?;
    let d = dict_value(header, "descr").ok_or_else(|| bad("header has no 'descr'"))?;
    let d = d.trim_matches(|c| c == '\'' || c == '"');
    let dtype = parse_descr(d).ok_or_else(|| bad(format!("unsupported dtype '{d}'")))?;
    let fortran =
        dict_value(header, "fortran_order").ok_or_else(|| bad("header has no 'fortran_order'"))?;
    if fortran != "False" {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let shape_s = dict_value(header, "shape").ok_or_else(|| bad("header has no 'shape'"))?;
    let inner = shape_s.trim_start_matches('(').trim_end_matches(')');
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("bad dimension '{s}'")))
        })
        .collect::<Result<Vec<_>>>()?;
    let n = checked_numel(&shape)?
        .checked_mul(dtype.size())
        .ok_or_else(|| bad("array too large"))?;
    let data = &bytes[hend..];
    if data.len() != n {
        return Err(bad(format!(
            "shape {shape:?} of {} needs {n} data bytes, file has {}",
            dtype.name(),
            data.len()
        )));
    }
    Tensor::from_le_bytes(dtype, shape, data)
}

/// Serialise a tensor as a version-1 `.npy` file.
pub fn write_npy(t: &Tensor) -> Result<Vec<u8>> {
    let shape = match t.shape() {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(t.dtype())
    );
    // pad so that the data starts on a 64-byte boundary, header ends with '\n'
    let total = 10 + header.len() + 1;
    let pad = (64 - total % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.numel() * t.dtype().size());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.to_le_bytes()?);
    Ok(out)
}

/// Write named tensors as an `.npz` archive (a zip with stored, uncompressed members
/// `<name>.npy`), readable by `numpy.load`.
pub fn write_npz(entries: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, t) in entries {
        let data = write_npy(t)?;
        let fname = format!("{name}.npy");
        let crc = crc32fast::hash(&data);
        let offset = out.len() as u32;
        // local file header
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date (1980-01-01)
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(fname.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(fname.as_bytes());
        out.extend_from_slice(&data);
        // central directory entry
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        central.extend_from_slice(&20u16.to_le_bytes()); // needed
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(fname.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra len, comment len, disk, internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(fname.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip() {
        let t = Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let bytes = write_npy(&t).unwrap();
        assert_eq!(&bytes[..6], MAGIC);
        let back = read_npy(&bytes).unwrap();
        assert_eq!(back.shape(), &[2, 3]);
        assert_eq!(back.to_f32_vec(), t.to_f32_vec());
        let s = Tensor::from_i64(vec![], vec![-7]);
        let back = read_npy(&write_npy(&s).unwrap()).unwrap();
        assert_eq!(back.shape(), &[] as &[usize]);
        assert_eq!(back.to_i64_vec(), vec![-7]);
        let v = Tensor::from_bool(vec![3], vec![true, false, true]);
        let back = read_npy(&write_npy(&v).unwrap()).unwrap();
        assert_eq!(back.dtype(), DType::Bool);
        assert_eq!(back.to_i64_vec(), vec![1, 0, 1]);
    }

    #[test]
    fn npy_complex64_round_trips_and_reads_numpys_layout() {
        let pairs: Vec<u8> = [1.5f32, -2.0, 0.0, 3.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = Tensor::from_le_bytes(DType::C64, vec![2], &pairs).unwrap();
        let bytes = write_npy(&t).unwrap();
        let back = read_npy(&bytes).unwrap();
        assert_eq!(back.dtype(), DType::C64);
        assert_eq!(back.to_le_bytes().unwrap(), pairs);
        // The second, independent writer (test-support's, as numpy writes `<c8`).
        let theirs = wasm_torch_test_support::npy::c64(&[2], &[1.5, -2.0, 0.0, 3.25]);
        assert_eq!(read_npy(&theirs).unwrap().to_le_bytes().unwrap(), pairs);
    }

    #[test]
    fn npy_rejects_garbage() {
        assert_eq!(
            read_npy(b"hello").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        let mut bytes = write_npy(&Tensor::from_f32(vec![4], vec![0.0; 4])).unwrap();
        bytes.truncate(bytes.len() - 1);
        assert!(read_npy(&bytes).is_err());
    }

    #[test]
    fn npz_layout() {
        let z = write_npz(&[("a".into(), Tensor::from_f32(vec![1], vec![1.0]))]).unwrap();
        assert_eq!(&z[..4], &[0x50, 0x4b, 3, 4]);
        let eocd = &z[z.len() - 22..];
        assert_eq!(&eocd[..4], &[0x50, 0x4b, 5, 6]);
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 1);
    }
}
