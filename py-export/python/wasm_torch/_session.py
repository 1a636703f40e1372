"""``wasm_torch.load``: the native interpreter with numpy in, numpy out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

_NP_DTYPES = {
    "f32": np.float32,
    "f16": np.float16,
    "f64": np.float64,
    "i64": np.int64,
    "i32": np.int32,
    "i16": np.int16,
    "i8": np.int8,
    "u8": np.uint8,
    "bool": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _NP_DTYPES.items()}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, dtype name ("f32", "i64", ...) and shape (ints or dim names)."""

    name: str
    dtype: str
    shape: Tuple[Union[int, str], ...]


def to_numpy(x: Any) -> np.ndarray:
    """numpy array from a numpy array, a torch tensor or anything ``np.asarray`` accepts."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            raise TypeError("bfloat16 inputs are not supported; convert to float32")
        x = x.numpy()
    a = np.asarray(x)
    # Not np.ascontiguousarray: it turns 0-d arrays (scalar tensors) into 1-d ones.
    return a if a.flags.c_contiguous else a.copy(order="C")


def raw_from_numpy(a: np.ndarray) -> Tuple[str, List[int], bytes]:
    """numpy -> the ``(dtype, shape, bytes)`` triple the native side takes."""
    name = _NAMES.get(a.dtype)
    if name is None:
        raise TypeError(f"unsupported input dtype {a.dtype}")
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return name, list(a.shape), a.tobytes(order="C")


def numpy_from_raw(dtype: str, shape: List[int], data: bytes) -> np.ndarray:
    """The native ``(dtype, shape, bytes)`` triple -> a numpy array (a copy owned by numpy)."""
    if dtype == "bf16":
        u = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype=np.dtype(_NP_DTYPES[dtype]).newbyteorder("<")).reshape(shape).copy()


class Session:
    """A loaded ``.wtb`` model. ``run(*inputs)`` takes numpy arrays or torch tensors."""

    def __init__(self, native: Any, path: str = ""):
        self._native = native
        self.path = path
        self.inputs = [TensorSpec(n, d, tuple(s)) for n, d, s in native.inputs]
        self.outputs = [TensorSpec(n, d, tuple(s)) for n, d, s in native.outputs]

    def set_prepack_budget(self, nbytes: int) -> None:
        """Bytes of packed weight copies this session may keep (default 256 MiB; 0 = none).

        Packing a weight once saves re-packing it on every call; weights past the budget run
        from their stored layout, so memory stays weights + activations + this budget."""
        self._native.set_prepack_budget(int(nbytes))

    @property
    def prepacked_bytes(self) -> int:
        """Bytes held by packed weight copies so far."""
        return self._native.prepacked_bytes

    def run(self, *inputs: Any, **named: Any) -> List[np.ndarray]:
        """Run the model; inputs positionally or by name; returns one numpy array per output."""
        if named:
            by_name: Dict[str, Any] = dict(named)
            if inputs:
                raise TypeError("pass inputs either positionally or by name, not both")
            missing = [s.name for s in self.inputs if s.name not in by_name]
            extra = sorted(set(by_name) - {s.name for s in self.inputs})
            if missing or extra:
                raise TypeError(f"inputs: missing {missing}, unexpected {extra}")
            inputs = tuple(by_name[s.name] for s in self.inputs)
        if len(inputs) != len(self.inputs):
            raise TypeError(f"the model takes {len(self.inputs)} input(s), got {len(inputs)}")
        raw = [raw_from_numpy(to_numpy(x)) for x in inputs]
        return [numpy_from_raw(*o) for o in self._native.run(raw)]

    __call__ = run

    @property
    def weight_bytes(self) -> int:
        """Bytes of the weights at f32 (their logical size)."""
        return int(self._native.weight_bytes)

    @property
    def resident_weight_bytes(self) -> int:
        """Bytes the weights occupy in memory as held: int8/f16 Linear weights stay at their
        quantized size (plus packing), other weights count their f32 size."""
        return int(self._native.resident_weight_bytes)

    @property
    def states(self) -> List[TensorSpec]:
        """The session-state tensors (a KV cache) the model updates in place; empty if none."""
        return [TensorSpec(n, d, tuple(s)) for n, d, s in self._native.states()]

    def asset(self, name: str) -> Optional[bytes]:
        """The bytes of the asset ``name`` the file ships with (``"tokenizer.json"``), or
        ``None`` when it has none of that name."""
        return self._native.asset(name)

    def asset_names(self) -> List[str]:
        """Names of the file's assets, in file order (empty when it has none)."""
        return list(self._native.asset_names())

    def reset_state(self) -> None:
        """Put every state tensor back to its initial value (a new conversation)."""
        self._native.reset_state()

    def write_stats(self, reset: bool = False) -> Tuple[int, int]:
        """``(bytes_written, bytes_copied)`` by in-place state writes since the last reset;
        a KV-cache decode step writes one token's keys and values and copies nothing."""
        return tuple(self._native.write_stats(reset))

    def trace(self, *inputs: Any) -> Tuple[List[np.ndarray], List[Tuple[str, np.ndarray]]]:
        """Run once recording every value an instruction writes: (outputs, [(name, array), ...])."""
        self._native.set_trace(True)
        try:
            outs = self.run(*inputs)
            entries = [(n, numpy_from_raw(d, s, b)) for n, d, s, b in self._native.take_trace()]
        finally:
            self._native.set_trace(False)
        return outs, entries

    def __repr__(self) -> str:
        return f"Session({self.path!r}, inputs={self.inputs}, outputs={self.outputs})"


def load(path: Union[str, "os.PathLike[str]", bytes], *, prepack_budget: Optional[int] = None) -> Session:
    """Load a ``.wtb`` file (a path, or the file's bytes) into a native interpreter session.

    ``prepack_budget``: see :meth:`Session.set_prepack_budget` (default 256 MiB)."""
    from . import _native

    if isinstance(path, (bytes, bytearray)):
        s = Session(_native.NativeSession.from_bytes(bytes(path)), "<bytes>")
    else:
        s = Session(_native.NativeSession(os.fspath(path)), os.fspath(path))
    if prepack_budget is not None:
        s.set_prepack_budget(prepack_budget)
    return s
