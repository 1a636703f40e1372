/**
 * Nested inputs and outputs (format-spec §4.10.1): a model exported from a `forward` that
 * takes lists and returns lists/dicts of tensors (a torchvision detector:
 * `[image] -> [{boxes, scores, labels}]`) is stored with flat, dot-named tensors
 * (`images.0`, `0.boxes`) and the nesting in the `wasm_torch.io.json` asset. This module
 * parses and checks that asset and maps between the nested values and the flat ones.
 */
import { InvalidInputError, BadFileError } from './errors.js';
import type { InputValue } from './scalars.js';
import type { Tensor } from './tensor.js';

/** The asset that holds the nesting. */
export const STRUCTURE_ASSET = 'wasm_torch.io.json';

/** One node of a structure tree. */
export type StructureNode =
  | {
      /** A tensor: its index among the file's flat inputs (or outputs). */
      t: number;
    }
  | {
      /** A value that is not a tensor (a number, string or `null`), kept as it was. */
      const: unknown;
    }
  | {
      /** A Python list of nodes; becomes an array. */
      list: StructureNode[];
    }
  | {
      /** A Python tuple of nodes; becomes an array. */
      tuple: StructureNode[];
    }
  | {
      /** A Python dict as `[key, node]` pairs in its order; becomes an object. */
      dict: [string, StructureNode][];
    };

/** The parsed asset: one tree per `forward` parameter, one for the output. */
export interface Structure {
  /** The asset's schema version; only 1 exists. */
  version: 1;
  /** One tree per `forward` parameter, in order. */
  inputs: StructureNode[];
  /** The tree of `forward`'s return value. */
  outputs: StructureNode;
}

/** A nested output: a tensor, an array of nested values, or an object of them. */
export type Nested = Tensor | Nested[] | { [key: string]: Nested };

/**
 * Parse and check the asset's bytes against a file with `nIn` flat inputs and `nOut` flat
 * outputs: known node kinds only, every flat index in range and used once, depth ≤ 64.
 * Throws `BadFileError` saying what is wrong.
 */
export function parseStructure(bytes: Uint8Array, nIn: number, nOut: number): Structure {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new BadFileError(`${STRUCTURE_ASSET}: not UTF-8 JSON (${(e as Error).message})`);
  }
  const bad = (why: string): never => {
    throw new BadFileError(`${STRUCTURE_ASSET}: ${why}`);
  };
  if (typeof doc !== 'object' || doc === null || (doc as { version?: unknown }).version !== 1) bad('expected an object with version 1');
  const d = doc as { inputs?: unknown; outputs?: unknown };
  if (!Array.isArray(d.inputs)) bad("'inputs' must be an array");
  const walk = (node: unknown, n: number, seen: Set<number>, allowConst: boolean, depth: number): void => {
    if (depth > 64) bad('nesting deeper than 64');
    if (typeof node !== 'object' || node === null || Array.isArray(node)) bad('malformed node');
    const keys = Object.keys(node as object);
    if (keys.length !== 1) bad('malformed node');
    const kind = keys[0];
    const body = (node as Record<string, unknown>)[kind];
    if (kind === 't') {
      if (typeof body !== 'number' || !Number.isInteger(body) || body < 0 || body >= n || seen.has(body)) bad(`tensor index ${String(body)} out of range or repeated`);
      seen.add(body as number);
    } else if (kind === 'const' && allowConst) {
      // a fixed non-tensor argument
    } else if ((kind === 'list' || kind === 'tuple') && Array.isArray(body)) {
      for (const c of body) walk(c, n, seen, allowConst, depth + 1);
    } else if (kind === 'dict' && Array.isArray(body)) {
      for (const item of body) {
        if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') bad('dict items must be [key, node]');
        walk(item[1], n, seen, allowConst, depth + 1);
      }
    } else {
      bad(`unknown node kind '${kind}'`);
    }
  };
  const seenIn = new Set<number>();
  for (const t of d.inputs as unknown[]) walk(t, nIn, seenIn, true, 0);
  const seenOut = new Set<number>();
  walk(d.outputs, nOut, seenOut, false, 0);
  if (seenIn.size !== nIn || seenOut.size !== nOut) bad('does not place every flat input and output');
  return doc as Structure;
}

/**
 * The structure asset among a loaded file's `assets`, parsed (`null`: the file has none).
 * Shared by `Session` and `WorkerSession`, which each cache the result on first use.
 */
export function structureFromAssets(assets: ReadonlyMap<string, Uint8Array>, nIn: number, nOut: number): Structure | null {
  const raw = assets.get(STRUCTURE_ASSET);
  return raw === undefined ? null : parseStructure(raw, nIn, nOut);
}

/** The flat inputs (by the file's input names) of nested `args`, one per `forward` parameter. */
export function flattenInputs(s: Structure, args: unknown[], names: readonly string[]): Record<string, InputValue> {
  if (args.length !== s.inputs.length) throw new InvalidInputError(`the model takes ${s.inputs.length} argument(s), got ${args.length}`);
  const out: Record<string, InputValue> = {};
  const go = (node: StructureNode, v: unknown): void => {
    if ('t' in node) {
      out[names[node.t]] = v as InputValue;
    } else if ('const' in node) {
      if (v !== undefined && v !== node.const) throw new InvalidInputError(`this argument was fixed to ${JSON.stringify(node.const)} at export`);
    } else if ('dict' in node) {
      if (typeof v !== 'object' || v === null) throw new InvalidInputError('expected an object');
      for (const [k, c] of node.dict) {
        if (!(k in v)) throw new InvalidInputError(`missing key '${k}'`);
        go(c, (v as Record<string, unknown>)[k]);
      }
    } else {
      const items = 'list' in node ? node.list : node.tuple;
      if (!Array.isArray(v) || v.length !== items.length) {
        throw new InvalidInputError(`expected an array of ${items.length} item(s) (the file was exported for that many)`);
      }
      items.forEach((c, i) => go(c, v[i]));
    }
  };
  s.inputs.forEach((node, i) => go(node, args[i]));
  return out;
}

/**
 * The flat inputs (by name) of a `runNested(...args)` call: through the structure `s` when the
 * file has one, else one argument per input in order. Shared by `Session` and `WorkerSession`.
 */
export function nestedCallInputs(s: Structure | undefined, args: unknown[], inputs: readonly { name: string }[]): Record<string, InputValue> {
  const names = inputs.map((i) => i.name);
  if (s !== undefined) return flattenInputs(s, args, names);
  if (args.length !== names.length) throw new InvalidInputError(`the model takes ${names.length} input(s), got ${args.length}`);
  const named: Record<string, InputValue> = {};
  names.forEach((name, i) => {
    named[name] = args[i] as InputValue;
  });
  return named;
}

/** The result of a `runNested` call from the flat outputs: nested by `s`, else the array in file order. */
export function nestedCallOutputs(s: Structure | undefined, flat: Record<string, Tensor>, outputs: readonly { name: string }[]): Nested {
  const names = outputs.map((o) => o.name);
  return s === undefined ? names.map((n) => flat[n]) : rebuildOutputs(s, flat, names);
}

/** The nested output of the flat outputs `flat` (by name; `names` in file order). */
export function rebuildOutputs(s: Structure, flat: Record<string, Tensor>, names: readonly string[]): Nested {
  const go = (node: StructureNode): Nested => {
    if ('t' in node) return flat[names[node.t]];
    if ('dict' in node) {
      const o: { [key: string]: Nested } = {};
      for (const [k, c] of node.dict) o[k] = go(c);
      return o;
    }
    if ('list' in node) return node.list.map(go);
    if ('tuple' in node) return node.tuple.map(go);
    throw new BadFileError(`${STRUCTURE_ASSET}: a constant cannot be an output`);
  };
  return go(s.outputs);
}
