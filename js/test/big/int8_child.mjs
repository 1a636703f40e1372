// Loads and runs the int8 Linear stack in a process of its own and prints one JSON line with
// what huge.test.mjs checks. Its own process, because wasm memory never shrinks: in the test
// process the f32 huge test has already grown the shared instance past what the int8 load
// needs, so the int8 load's growth there would measure nothing.
//
//   node js/test/big/int8_child.mjs MODEL_DIR VARIANT
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, Tensor } from '../../dist/index.js';
import { parseNpy } from '../../dist/npy.js';

const [dir, variant] = process.argv.slice(2);
const npy = (name) => parseNpy(readFileSync(join(dir, name))).data;
const x = npy('x.npy');
const s = await Session.load(join(dir, 'linear_stack.wtb'), { variant, threads: variant === 'threads' ? 2 : false });
const ls = s.loadStats;
const t = performance.now();
const out = await s.run({ [s.inputs[0].name]: new Tensor('f32', x, [1, x.length]) });
const runMs = performance.now() - t;
const y = Array.from(Object.values(out)[0].data);
// Memory never shrinks: its size now is the peak of the load and the run.
const peak = s.memoryBytes;
s.release();
console.log(JSON.stringify({ bytes: ls.bytes, ms: ls.ms, runMs, residentWeightBytes: ls.residentWeightBytes, memoryBefore: ls.memoryBefore, peak, y }));
