"""Time SmolLM2 decode steps natively via the Python binding: median ms per step.
Usage: python benches/llm/time_decode_native.py MODEL.wtb [MODEL2.wtb ...]; alternates models per round (paired)."""
import sys, time, statistics
import numpy as np
import wasm_torch
models = sys.argv[1:]
sess = [wasm_torch.load(m) for m in models]
ids = np.array([[504]], dtype=np.int64)
times = {m: [] for m in models}
outs = {}
for r in range(6):
    for m, s in zip(models, sess):
        s.reset_state()
        t = []
        for pos in range(40):
            t0 = time.perf_counter()
            o = s.run(ids, np.array([pos], dtype=np.int64))
            t.append((time.perf_counter() - t0) * 1e3)
        outs[m] = o[0]
        if r > 0:
            times[m].extend(t[2:])
for m in models:
    print(f"{m}: median {statistics.median(times[m]):.2f} ms/step over {len(times[m])} steps, min {min(times[m]):.2f}")
if len(models) == 2:
    a, b = (statistics.median(times[m]) for m in models)
    print(f"ratio second/first: {b/a:.3f}; max |logit diff| {np.abs(outs[models[0]] - outs[models[1]]).max():.2e}")
