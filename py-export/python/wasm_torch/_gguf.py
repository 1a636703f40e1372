"""Taking already-quantized int4 weights from a GGUF file (llama.cpp's format).

``export(..., weights="int4", gguf=path)`` stores the Linear weights of a model that
transformers loaded from that GGUF (``from_pretrained(..., gguf_file=...)``) with the file's
own Q4_0/Q4_1 blocks instead of re-quantizing their dequantised fp32 values, so the
``.wtb`` holds bit for bit the weights llama.cpp computes with.

Matching is by value, not by trusting names or layouts: a GGUF tensor is dequantised with
the ``gguf`` package (what transformers itself does at load) and each row of the PyTorch
weight must equal one of its rows exactly (transformers permutes the rows of the attention
q/k projections back from llama.cpp's RoPE layout; any such row permutation is found and
applied to the blocks). A weight with no exact match is left to the ordinary quantizer.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

import numpy as np
import torch

#: GGUF ggml types taken as they are: type -> (block bytes, has offsets). A block is 32
#: weights: Q4_0 = f16 d + 16 code bytes; Q4_1 = f16 d + f16 m + 16 code bytes.
_Q4_TYPES = {"Q4_0": (18, False), "Q4_1": (20, True)}

#: transformers' Llama parameter suffix -> GGUF tensor name (layer index substituted).
_LLAMA_NAMES = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_LAYER = re.compile(r"layers\.(\d+)\.(.+)$")


def gguf_name(torch_name: str) -> Optional[str]:
    """The GGUF tensor name of a transformers Llama weight (``None`` if not a block Linear)."""
    m = _LAYER.search(torch_name)
    if not m or m.group(2) not in _LLAMA_NAMES:
        return None
    return f"blk.{m.group(1)}.{_LLAMA_NAMES[m.group(2)]}"


class GgufInt4:
    """The Q4_0/Q4_1 tensors of one GGUF file, ready to be matched to PyTorch weights."""

    def __init__(self, path: str) -> None:
        import gguf  # the PyPI package; only needed on this path

        self._gguf = gguf
        self._tensors = {}
        for t in gguf.GGUFReader(path).tensors:
            if t.tensor_type.name in _Q4_TYPES:
                self._tensors[t.name] = t
        self.taken = 0
        self.unmatched: Dict[str, str] = {}

    def stored(self, torch_name: str, w: torch.Tensor) -> Optional[Tuple[bytes, int, bool]]:
        """The GGUF's int4 blocks for the 2-d f32 weight ``w``, when they hold exactly its values.

        Returns:
            ``(stored bytes, group size, has offsets)`` with the bytes as SPEC.md §4.6.1 lays
            them out (codes, f16 scales, f16 offsets), or None when the GGUF has no block
            tensor for ``torch_name`` or its values differ from ``w``.
        """
        name = gguf_name(torch_name)
        t = self._tensors.get(name) if name else None
        if t is None:
            return None
        block, offsets = _Q4_TYPES[t.tensor_type.name]
        raw = np.ascontiguousarray(np.asarray(t.data, dtype=np.uint8))
        n, k = w.shape
        if raw.shape != (n, k // 32 * block) or k % 32:
            self.unmatched[torch_name] = f"shape {raw.shape} vs {tuple(w.shape)}"
            return None
        deq = self._gguf.quants.dequantize(raw, t.tensor_type).reshape(n, k).astype(np.float32)
        want = w.detach().contiguous().numpy().astype(np.float32)
        rows = {deq[i].tobytes(): i for i in range(n)}
        perm = np.array([rows.get(want[j].tobytes(), -1) for j in range(n)])
        if (perm < 0).any():
            self.unmatched[torch_name] = f"{int((perm < 0).sum())} of {n} rows have no exact match"
            return None
        blocks = raw[perm].reshape(n * k // 32, block)
        scales = blocks[:, 0:2]
        mins = blocks[:, 2:4] if offsets else blocks[:, 0:0]
        codes = blocks[:, 4:] if offsets else blocks[:, 2:]
        self.taken += 1
        data = codes.tobytes() + scales.tobytes() + mins.tobytes()
        return data, 32, offsets
