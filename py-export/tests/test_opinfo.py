"""OpInfo coverage in CI: a deterministic sample of PyTorch's OpInfo entries must still give
the status docs/opinfo.md records for them (covered entries keep passing; an entry that starts
passing, or fails differently, means the table is stale: run scripts/gen-opinfo-doc.sh).

The full measure (every entry, a few minutes) is ``bash scripts/gen-opinfo-doc.sh``; set
``WASM_TORCH_OPINFO_FULL=1`` to run every entry here instead of the sample.
"""

from __future__ import annotations

import os
from pathlib import Path

import opinfo_harness

DOC = Path(__file__).resolve().parents[2] / "docs" / "opinfo.md"
#: Every STRIDE-th entry (sorted by name) runs in CI: about 1/8 of the database.
STRIDE = 8


def _entries():
    ops = opinfo_harness.float32_entries()
    if os.environ.get("WASM_TORCH_OPINFO_FULL") == "1":
        return ops
    return opinfo_harness.sample_for_ci(ops, STRIDE)


def test_opinfo_sample_matches_the_table(tmp_path):
    recorded = opinfo_harness.parse(DOC.read_text())
    ops = _entries()
    assert len(ops) > 50
    results = opinfo_harness.measure(ops)
    stale = []
    for r in results:
        want = recorded.get(r.name)
        if want is None:
            stale.append(f"{r.name}: not in {DOC.name}")
        elif want[0] != r.status:
            stale.append(f"{r.name}: {DOC.name} says {want[0]}, now {r.status} ({r.reason})")
    covered, total = opinfo_harness.summary(results)
    print(f"OpInfo sample: {covered}/{total} covered ({len(results)} entries)")
    assert not stale, "docs/opinfo.md is stale (run scripts/gen-opinfo-doc.sh):\n" + "\n".join(stale)
    # The sample exercises every status's path, not only the happy one.
    assert covered > 0 and total > covered
