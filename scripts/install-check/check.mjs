// Install check, npm side: the installed `wasm-torch` package runs the model check.py exported,
// against PyTorch's output. Run from a fresh npm project: node check.mjs WORK_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, Tensor } from 'wasm-torch';
import { parseNpy } from 'wasm-torch/npy';

const work = process.argv[2];
const x = parseNpy(readFileSync(join(work, 'x.npy')));
const want = parseNpy(readFileSync(join(work, 'y.npy')));
const s = await Session.load(join(work, 'model.wtb'));
const out = Object.values(await s.run({ [s.inputs[0].name]: new Tensor('f32', x.data, x.shape) }))[0];
let worst = 0;
for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - want.data[i]));
console.log(`node ${process.version}: ${s.build.variant} build (${s.build.reason}); max |diff| vs PyTorch ${worst.toExponential(2)}`);
s.release();
if (!(worst <= 1e-4)) {
  console.error(`the npm package's result differs from PyTorch by ${worst}`);
  process.exit(1);
}
process.exit(0);
