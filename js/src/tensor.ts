/**
 * The `Tensor` type: a dtype, a shape and a typed array holding the elements in row-major
 * order. 16-bit floats (`f16`, `bf16`) are exposed as their raw bits in a `Uint16Array`
 * because JavaScript has no portable 16-bit float array. Complex numbers (`c64`, PyTorch's
 * `complex64`) are a `Float32Array` of interleaved (real, imaginary) pairs: twice as many
 * floats as elements.
 */
import { InvalidInputError } from './errors.js';

/** Element types, named like the `.wtb` format's dtypes. */
export type DType = 'f32' | 'f64' | 'f16' | 'bf16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool' | 'c64';

/** The typed array used for each dtype. */
export interface DataTypeMap {
  /** 32-bit floats. */
  f32: Float32Array;
  /** 64-bit floats. */
  f64: Float64Array;
  /** IEEE half floats, as their raw 16-bit patterns (JavaScript has no half-float array). */
  f16: Uint16Array;
  /** bfloat16, as raw 16-bit patterns (the high half of the float32 bits). */
  bf16: Uint16Array;
  /** 64-bit integers, as `bigint`s. */
  i64: BigInt64Array;
  /** 32-bit integers. */
  i32: Int32Array;
  /** 16-bit integers. */
  i16: Int16Array;
  /** 8-bit signed integers. */
  i8: Int8Array;
  /** 8-bit unsigned integers. */
  u8: Uint8Array;
  /** Booleans, one byte each: 0 for false, 1 for true. */
  bool: Uint8Array;
  /** Interleaved (real, imaginary) pairs. */
  c64: Float32Array;
}

/** Any typed array a tensor can hold. */
export type TensorData = DataTypeMap[DType];

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TensorData; new (length: number): TensorData; BYTES_PER_ELEMENT: number };

const CTORS: Record<DType, ArrayCtor> = {
  f32: Float32Array as unknown as ArrayCtor,
  f64: Float64Array as unknown as ArrayCtor,
  f16: Uint16Array as unknown as ArrayCtor,
  bf16: Uint16Array as unknown as ArrayCtor,
  i64: BigInt64Array as unknown as ArrayCtor,
  i32: Int32Array as unknown as ArrayCtor,
  i16: Int16Array as unknown as ArrayCtor,
  i8: Int8Array as unknown as ArrayCtor,
  u8: Uint8Array as unknown as ArrayCtor,
  bool: Uint8Array as unknown as ArrayCtor,
  c64: Float32Array as unknown as ArrayCtor,
};

/** Array entries per element: 2 for complex (real and imaginary part), 1 otherwise. */
function lanes(dtype: DType): number {
  return dtype === 'c64' ? 2 : 1;
}

/** True when `s` names a dtype. */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(CTORS, s);
}

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: DType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT * lanes(dtype);
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new InvalidInputError(`shape entry ${d} is not a non-negative integer`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(`shape [${shape.join(', ')}] is too large`);
  return n;
}

/** A dense tensor. */
export class Tensor<D extends DType = DType> {
  /** The element type; it decides the typed array `data` is. */
  readonly dtype: D;
  /** The dimensions, outermost first (`[]` for a 0-d tensor). */
  readonly shape: readonly number[];
  /** The elements in row-major (C) order; its length is the product of `shape`. */
  readonly data: DataTypeMap[D];

  /**
   * @param dtype element type
   * @param data  elements in row-major order: the dtype's typed array, or a plain array of
   *              numbers (bigints for i64) which is converted; for `c64`, interleaved
   *              (real, imaginary) pairs
   * @param shape dimensions; defaults to `[data.length]` (`[data.length / 2]` for `c64`)
   */
  constructor(dtype: D, data: DataTypeMap[D] | ArrayLike<number> | ArrayLike<bigint>, shape?: readonly number[]) {
    if (!isDType(dtype)) throw new InvalidInputError(`unknown dtype '${String(dtype)}'`);
    const Ctor = CTORS[dtype];
    let arr: TensorData;
    if (data instanceof Ctor) {
      arr = data as TensorData;
    } else if (ArrayBuffer.isView(data)) {
      throw new InvalidInputError(`dtype '${dtype}' needs a ${Ctor.name ?? 'typed array'}, got ${data.constructor.name}`);
    } else {
      arr = new Ctor((data as ArrayLike<number>).length);
      try {
        if (dtype === 'i64') {
          for (let i = 0; i < arr.length; i++) (arr as BigInt64Array)[i] = BigInt((data as ArrayLike<number | bigint>)[i]);
        } else {
          (arr as Float32Array).set(data as ArrayLike<number>);
        }
      } catch (e) {
        throw new InvalidInputError(`cannot convert data to ${dtype}: ${(e as Error).message}`, { cause: e });
      }
    }
    const k = lanes(dtype);
    if (arr.length % k !== 0) throw new InvalidInputError(`${dtype} data needs (real, imaginary) pairs, got ${arr.length} numbers`);
    const sh = shape ? [...shape] : [arr.length / k];
    const numel = numelOf(sh);
    if (numel * k !== arr.length) {
      throw new InvalidInputError(`shape [${sh.join(', ')}] has ${numel} elements but data has ${arr.length / k}`);
    }
    this.dtype = dtype;
    this.shape = Object.freeze(sh);
    this.data = arr as DataTypeMap[D];
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length / lanes(this.dtype);
  }

  /** The elements' bytes (little-endian, as every supported engine is), without copying. */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /** A tensor viewing `bytes` (copied when misaligned for the element type). */
  static fromBytes<D extends DType>(dtype: D, shape: readonly number[], bytes: Uint8Array): Tensor<D> {
    if (!isDType(dtype)) throw new InvalidInputError(`unknown dtype '${String(dtype)}'`);
    const Ctor = CTORS[dtype];
    const size = Ctor.BYTES_PER_ELEMENT;
    if (bytes.byteLength % dtypeSize(dtype) !== 0) throw new InvalidInputError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
    const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
    const data = new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
    return new Tensor(dtype, data as DataTypeMap[D], shape);
  }
}
