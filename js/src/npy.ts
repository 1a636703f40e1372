/**
 * Reading and writing NumPy `.npy` files (format versions 1–3, little-endian, C order), so
 * example inputs and PyTorch reference outputs saved with `numpy.save` can be used directly.
 */
import { InvalidInputError } from './errors.js';
import { Tensor, type DType } from './tensor.js';

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'f32',
  '<f8': 'f64',
  '<f2': 'f16',
  '<i8': 'i64',
  '<i4': 'i32',
  '<i2': 'i16',
  '|i1': 'i8',
  '|u1': 'u8',
  '|b1': 'bool',
  '<c8': 'c64',
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = Object.fromEntries(
  Object.entries(DESCR_TO_DTYPE).map(([k, v]) => [v, k]),
);

/** Parse `.npy` bytes into a `Tensor`. */
export function parseNpy(bytes: Uint8Array): Tensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.byteLength < 10 || magic.some((b, i) => bytes[i] !== b)) throw new InvalidInputError('not a .npy file (bad magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new InvalidInputError('truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new InvalidInputError(`unsupported .npy version ${major}`);
  }
  if (headerStart + headerLen > bytes.byteLength) throw new InvalidInputError('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new InvalidInputError(`cannot parse .npy header: ${header}`);
  if (fortran === 'True') throw new InvalidInputError('Fortran-order .npy arrays are not supported');
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new InvalidInputError(`unsupported .npy dtype '${descr}'`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new InvalidInputError(`bad .npy shape (${shapeText})`);
  const data = bytes.subarray(headerStart + headerLen);
  return Tensor.fromBytes(dtype, shape, data);
}

/** Serialise a `Tensor` as `.npy` (version 1.0). */
export function toNpy(t: Tensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new InvalidInputError(`dtype ${t.dtype} has no .npy equivalent`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(t.bytes(), 10 + header.length);
  return out;
}
