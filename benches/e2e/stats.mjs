// Small helpers the Node benchmark scripts share: argument lookup, the median, and a zoo
// model's inputs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `opt(name, dflt)`: the value after `--name` in `args`, or `dflt`. */
export function argReader(args) {
  return (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
}

/** Median of a non-empty list of numbers (mean of the middle two for even lengths). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The case-0 input tensors of zoo entry `model` in `zoo` (the arrays PyTorch was fed). */
export function caseInputs(zoo, model, parseNpy) {
  return model.cases[0].inputs.map((f) => parseNpy(new Uint8Array(readFileSync(join(zoo, f)))));
}

/** `inputs` (in signature order) keyed by a wasm-torch session's input names, for `run`. */
export function namedFeeds(session, inputs) {
  return Object.fromEntries(inputs.map((t, i) => [session.inputs[i].name, t]));
}
