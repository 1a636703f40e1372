"""Taking already-quantized weights from a GGUF file (llama.cpp's format).

``export(..., weights="int4" | "int8", gguf=path)`` stores the weights of a model that
transformers loaded from that GGUF (``from_pretrained(..., gguf_file=...)``) with the file's
own blocks instead of re-quantizing their dequantised fp32 values, so the ``.wtb`` holds
bit for bit the weights llama.cpp computes with:

- Q4_0 / Q4_1 blocks become group-wise int4 (SPEC.md §4.6.1), for weights whose policy is
  int4 (the block Linear weights);
- Q8_0 blocks become group-wise int8 (SPEC.md §4.6.2), for weights whose policy is int4 or
  int8, including the token embedding and a tied or separate LM head (which ``"int4"``
  would otherwise store in f16): a GGUF's ``token_embd.weight`` is usually Q8_0.

Matching is by value, not by trusting names or layouts: a GGUF tensor is dequantised with
the ``gguf`` package (what transformers itself does at load) and each row of the PyTorch
weight must equal one of its rows exactly (transformers permutes the rows of the attention
q/k projections back from llama.cpp's RoPE layout; any such row permutation is found and
applied to the blocks). A weight with no exact match is left to the ordinary quantizer.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

#: GGUF ggml types taken as they are: type -> (block bytes, scale+offset header bytes, kind).
#: A block is 32 weights: Q4_0 = f16 d + 16 code bytes; Q4_1 = f16 d + f16 m + 16 code
#: bytes; Q8_0 = f16 d + 32 int8 codes.
_BLOCK_TYPES = {"Q4_0": (18, 2, "int4"), "Q4_1": (20, 4, "int4"), "Q8_0": (34, 2, "int8")}
#: Weights per GGUF block (the group size of the stored encodings).
_GROUP = 32

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
#: Whole-model tensors: the token embedding, and the LM head (``output.weight``, or the
#: embedding itself when the GGUF has no separate head: tied weights).
_GLOBAL_NAMES = {
    "embed_tokens.weight": ("token_embd.weight",),
    "lm_head.weight": ("output.weight", "token_embd.weight"),
}


def gguf_names(torch_name: str) -> Tuple[str, ...]:
    """The GGUF tensor names that may hold a transformers Llama weight, most likely first."""
    m = _LAYER.search(torch_name)
    if m and m.group(2) in _LLAMA_NAMES:
        return (f"blk.{m.group(1)}.{_LLAMA_NAMES[m.group(2)]}",)
    for suffix, names in _GLOBAL_NAMES.items():
        if torch_name == suffix or torch_name.endswith("." + suffix):
            return names
    return ()


class GgufBlocks:
    """The Q4_0/Q4_1/Q8_0 tensors of one GGUF file, ready to be matched to PyTorch weights.

    ``taken`` counts the weights stored from the GGUF (a weight shared by several names, a
    tied embedding and LM head, counts once), ``taken_by_type`` splits it by GGUF type, and
    ``unmatched`` names the weights whose GGUF tensor did not hold their values exactly.
    """

    def __init__(self, path: str) -> None:
        import gguf  # the PyPI package; only needed on this path

        self._gguf = gguf
        self._tensors: Dict[str, Any] = {}
        for t in gguf.GGUFReader(path).tensors:
            if t.tensor_type.name in _BLOCK_TYPES:
                self._tensors[t.name] = t
        self.taken = 0
        self.taken_by_type: Dict[str, int] = {}
        self.unmatched: Dict[str, str] = {}
        # (storage, offset, shape) of a weight already matched -> its result, so a tied
        # weight is matched and counted once.
        self._done: Dict[Tuple[int, int, Tuple[int, ...]], Tuple[bytes, Tuple[Any, ...]]] = {}

    def stored(
        self, torch_name: str, w: torch.Tensor, kinds: Tuple[str, ...] = ("int4",)
    ) -> Optional[Tuple[bytes, Tuple[Any, ...]]]:
        """The GGUF's blocks for the 2-d f32 weight ``w``, when they hold exactly its values.

        Args:
            torch_name: the weight's name in the model.
            w: its values.
            kinds: which stored encodings the weight's policy accepts: ``"int4"`` (Q4_0,
                Q4_1) and/or ``"int8"`` (Q8_0).

        Returns:
            ``(stored bytes, encoding)``: ``("int4_stored", 32, has_offsets)`` with the bytes
            as SPEC.md §4.6.1 lays them out (codes, f16 scales, f16 offsets), or
            ``("int8_group_stored", 32)`` with SPEC.md §4.6.2's (int8 codes, f16 scales);
            None when the GGUF has no such tensor for ``torch_name`` or its values differ.
        """
        if w.dim() != 2:
            return None
        key = (w.untyped_storage().data_ptr(), int(w.storage_offset()), tuple(int(d) for d in w.shape))
        if key in self._done:
            got = self._done[key]
            return got if _kind(got) in kinds else None
        reasons: List[str] = []
        for name in gguf_names(torch_name):
            t = self._tensors.get(name)
            if t is None:
                continue
            block, head, kind = _BLOCK_TYPES[t.tensor_type.name]
            if kind not in kinds:
                continue
            found, why = self._match(t, block, head, kind, w)
            if found is not None:
                self._done[key] = found
                self.taken += 1
                tn = t.tensor_type.name
                self.taken_by_type[tn] = self.taken_by_type.get(tn, 0) + 1
                self.unmatched.pop(torch_name, None)
                return found
            reasons.append(f"{name}: {why}")
        if reasons:
            self.unmatched[torch_name] = "; ".join(reasons)
        return None

    def _match(
        self, t: Any, block: int, head: int, kind: str, w: torch.Tensor
    ) -> Tuple[Optional[Tuple[bytes, Tuple[Any, ...]]], str]:
        raw = np.ascontiguousarray(np.asarray(t.data, dtype=np.uint8))
        n, k = w.shape
        if k % _GROUP or raw.shape != (n, k // _GROUP * block):
            return None, f"shape {raw.shape} vs {tuple(w.shape)}"
        deq = self._gguf.quants.dequantize(raw, t.tensor_type).reshape(n, k).astype(np.float32)
        want = w.detach().contiguous().numpy().astype(np.float32)
        if np.array_equal(deq.view(np.uint32), want.view(np.uint32)):
            perm = np.arange(n)
        else:
            rows = {deq[i].tobytes(): i for i in range(n)}
            perm = np.array([rows.get(want[j].tobytes(), -1) for j in range(n)])
            if (perm < 0).any():
                return None, f"{int((perm < 0).sum())} of {n} rows have no exact match"
        blocks = raw[perm].reshape(n * k // _GROUP, block)
        scales = blocks[:, 0:2]
        codes = blocks[:, head:]
        if kind == "int8":
            return (codes.tobytes() + scales.tobytes(), ("int8_group_stored", _GROUP)), ""
        offsets = head == 4
        mins = blocks[:, 2:4] if offsets else blocks[:, 0:0]
        data = codes.tobytes() + scales.tobytes() + mins.tobytes()
        return (data, ("int4_stored", _GROUP, offsets)), ""


def _kind(got: Tuple[bytes, Tuple[Any, ...]]) -> str:
    return "int8" if got[1][0] == "int8_group_stored" else "int4"
