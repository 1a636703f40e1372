/**
 * Scalar model inputs (format 1.1): TorchScript `int`/`float`/`bool` arguments and
 * torch.export `SymInt`s. The caller passes a number (a bigint for an int beyond 2^53), a
 * boolean, or a 0-d `Tensor`; this module turns that into the 0-d tensor the wasm side takes,
 * or throws `InvalidInputError` when the value does not fit the input.
 */
import { InvalidInputError } from './errors.js';
import { Tensor, type DType } from './tensor.js';

/** What a scalar input holds. */
export type ScalarKind = 'int' | 'float' | 'bool';

/** A JavaScript value for a scalar input. */
export type ScalarValue = number | bigint | boolean;

/** The value of one input: a tensor, or for a scalar input a number/bigint/boolean. */
export type InputValue = Tensor | ScalarValue;

/** Tensor dtypes each kind accepts as a 0-d tensor. */
const ACCEPTS: Record<ScalarKind, readonly DType[]> = {
  int: ['i64', 'i32', 'i16', 'i8', 'u8'],
  float: ['f32', 'f64', 'f16', 'bf16'],
  bool: ['bool'],
};

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (v instanceof Tensor) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  return v === null ? 'null' : typeof v;
}

/** True for the values a scalar input takes directly (not tensors). */
export function isScalarValue(v: unknown): v is ScalarValue {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** The 0-d tensor for scalar input `name` of `kind` given `v`. */
export function scalarTensor(name: string, kind: ScalarKind, v: unknown): Tensor {
  const a = kind === 'int' ? 'an' : 'a';
  const wrong = (): never => {
    throw new InvalidInputError(`input '${name}' is ${a} ${kind}, got ${describe(v)}`);
  };
  if (v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v) {
    const t = v as Tensor;
    if (t.shape.length !== 0) {
      throw new InvalidInputError(
        `input '${name}' is a scalar (${kind}), not a tensor; got shape [${t.shape.join(', ')}] (pass a number or a 0-d tensor)`,
      );
    }
    if (!ACCEPTS[kind].includes(t.dtype)) wrong();
    return v instanceof Tensor ? v : new Tensor(t.dtype, t.data as never, []);
  }
  switch (kind) {
    case 'int':
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) wrong();
        if (!Number.isSafeInteger(v)) {
          throw new InvalidInputError(`input '${name}' is an int; ${v} is beyond 2^53 and not exact as a number, pass a bigint`);
        }
        return new Tensor('i64', [BigInt(v)], []);
      }
      if (typeof v === 'bigint') {
        if (v < I64_MIN || v > I64_MAX) throw new InvalidInputError(`input '${name}' is an int, ${v}n does not fit in 64 bits`);
        return new Tensor('i64', [v], []);
      }
      return wrong();
    case 'float':
      if (typeof v === 'number') return new Tensor('f64', [v], []);
      return wrong();
    case 'bool':
      if (typeof v === 'boolean') return new Tensor('bool', [v ? 1 : 0], []);
      return wrong();
  }
}
