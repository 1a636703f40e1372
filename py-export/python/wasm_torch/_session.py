"""``wasm_torch.load``: the native interpreter with numpy in, numpy out."""

from __future__ import annotations

import json
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
    "c64": np.complex64,
}
_NAMES = {np.dtype(v): k for k, v in _NP_DTYPES.items()}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, dtype name ("f32", "i64", ...) and shape (ints or dim names).

    For a scalar input (a TorchScript ``int``/``float``/``bool`` argument), ``scalar`` is
    "int" | "float" | "bool" (``dtype`` is then "i64"/"f64"/"bool" and ``shape`` is ``()``)
    and ``default`` is the value used when the caller omits it (``has_default``). ``fixed``
    means the model was traced/exported with that value and accepts no other."""

    name: str
    dtype: str
    shape: Tuple[Union[int, str], ...]
    scalar: Optional[str] = None
    default: Any = None
    has_default: bool = False
    fixed: bool = False

    def __str__(self) -> str:
        if self.scalar is None:
            return f"{self.name}: {self.dtype}[{', '.join(str(d) for d in self.shape)}]"
        if self.fixed:
            return f"{self.name}: {self.scalar} == {self.default!r} (fixed)"
        return f"{self.name}: {self.scalar}" + (f" = {self.default!r}" if self.has_default else "")


#: numpy dtype kinds each scalar kind accepts from a 0-d array/tensor.
_SCALAR_NP_KINDS = {"int": "iu", "float": "f", "bool": "b"}
_SCALAR_NP_DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_}


def _is_tensor_like(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "numpy"))


def scalar_input(spec: TensorSpec, x: Any) -> np.ndarray:
    """Convert the value ``x`` given for scalar input ``spec`` to what the native side takes.

    Args:
        spec: the scalar input's spec (``spec.scalar`` is its kind).
        x: a Python number of the input's kind (an ``int`` is accepted for a float), or a 0-d
            numpy array/tensor whose dtype is of that kind.

    Returns:
        A 0-d numpy array of the input's dtype.

    Raises:
        InputError: ``x`` is of another kind, has dimensions, or is an int beyond 64 bits.
    """
    from .errors import InputError

    kind = spec.scalar
    assert kind is not None
    article = "an" if kind == "int" else "a"
    if isinstance(x, (bool, np.bool_)):
        ok = kind == "bool"
    elif isinstance(x, (int, np.integer)):
        ok = kind in ("int", "float")
    elif isinstance(x, (float, np.floating)):
        ok = kind == "float"
    elif _is_tensor_like(x):
        a = to_numpy(x)
        if a.ndim != 0:
            raise InputError(
                f"input '{spec.name}' is a scalar ({kind}), not a tensor; got an array of shape "
                f"{tuple(a.shape)} (pass a number or a 0-d array)"
            )
        if a.dtype.kind not in _SCALAR_NP_KINDS[kind]:
            raise InputError(f"input '{spec.name}' is {article} {kind}, got a 0-d {a.dtype} array")
        return a.astype(_SCALAR_NP_DTYPES[kind])
    else:
        raise InputError(f"input '{spec.name}' is {article} {kind}, got {type(x).__name__} {x!r}")
    if not ok:
        raise InputError(f"input '{spec.name}' is {article} {kind}, got {type(x).__name__} {x!r}")
    if kind == "int" and not (-(2**63) <= int(x) < 2**63):
        raise InputError(f"input '{spec.name}' is an int, {x} does not fit in 64 bits")
    return np.asarray(x, dtype=_SCALAR_NP_DTYPES[kind])


def check_fixed(spec: TensorSpec, a: np.ndarray) -> None:
    """A fixed input (the model was traced/exported with that value) accepts only it."""
    from .errors import InputError

    if spec.fixed and a.item() != spec.default:
        raise InputError(
            f"input '{spec.name}' is fixed to {spec.default!r} (the model was traced/exported with "
            f"that value and specialized to it), got {a.item()!r}; pass {spec.default!r} or leave it "
            "out, or re-export with frontend='script' (or a dynamic int) to vary it"
        )


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


#: Marks an input the caller did not pass.
_MISSING = object()


class Session:
    """A loaded ``.wtb`` model. ``run(*inputs)`` takes numpy arrays or torch tensors."""

    def __init__(self, native: Any, path: str = ""):
        self._native = native
        self.path = path
        scalars = {i: (k, d, f) for i, k, d, f in getattr(native, "scalar_inputs", [])}
        self.inputs = [
            TensorSpec(n, d, tuple(s), *self._scalar_fields(scalars.get(i)))
            for i, (n, d, s) in enumerate(native.inputs)
        ]
        self.outputs = [TensorSpec(n, d, tuple(s)) for n, d, s in native.outputs]

    @staticmethod
    def _scalar_fields(entry: Optional[Tuple[str, Any, bool]]) -> Tuple[Optional[str], Any, bool, bool]:
        if entry is None:
            return None, None, False, False
        kind, default, fixed = entry
        return kind, default, default is not None, fixed

    def set_prepack_budget(self, nbytes: int) -> None:
        """Bytes of packed weight copies this session may keep (default 256 MiB; 0 = none).

        Packing a weight once saves re-packing it on every call; weights past the budget run
        from their stored layout, so memory stays weights + activations + this budget."""
        self._native.set_prepack_budget(int(nbytes))

    @property
    def prepacked_bytes(self) -> int:
        """Bytes held by packed weight copies so far."""
        return self._native.prepacked_bytes

    @property
    def structure(self) -> Optional[Dict[str, Any]]:
        """The nesting of the model's inputs and outputs (lists, tuples, dicts of tensors).

        Read from the file's ``wasm_torch.io.json`` asset on first use; ``None`` for a model
        of flat tensors.

        Raises:
            StructureError: the asset is not valid JSON or does not fit the signature.
        """
        if not hasattr(self, "_structure"):
            from ._structure import ASSET, check
            from .errors import StructureError

            raw = self._native.asset(ASSET)
            self._structure = None
            if raw is not None:
                try:
                    doc = json.loads(raw)
                    self._structure = check(doc, len(self.inputs), len(self.outputs))
                except ValueError as e:  # JSONDecodeError is a ValueError
                    raise StructureError(f"{self.path}: bad {ASSET} asset ({e}); run_flat() still works") from e
        return self._structure

    def run(self, *inputs: Any, **named: Any) -> Any:
        """Run the model and return its outputs as exported.

        A structured model takes its inputs nested as the model did (``run([image])``) or
        flat (:meth:`run_flat`); inputs are otherwise as :meth:`run_flat` takes them.

        Returns:
            A list of numpy arrays (one per output) for a model of flat tensors, or the nested
            lists/tuples/dicts of numpy arrays the model returned (a detector's
            ``[{"boxes": ..., "scores": ..., "labels": ...}]``) when the file records a structure.

        Raises:
            InputError: the inputs do not fit the signature (nothing runs).
            StructureError: the file's structure asset is malformed.
            NativeError: the interpreter refused to run (e.g. an op refusing its arguments).
        """
        st = self.structure
        if st is None:
            return self.run_flat(*inputs, **named)
        from ._structure import rebuild

        if named or len(inputs) != len(st["inputs"]):
            flat_out = self.run_flat(*inputs, **named)
        else:
            flat_in: List[Any] = []
            for tree, x in zip(st["inputs"], inputs):
                _flatten_input(tree, x, flat_in)
            flat_out = self.run_flat(*flat_in)
        return rebuild(st["outputs"], flat_out)

    def run_flat(self, *inputs: Any, **named: Any) -> List[np.ndarray]:
        """Run the model on flat inputs, positionally and/or by name.

        Tensor inputs take numpy arrays or torch tensors; scalar inputs (``spec.scalar``) take
        a Python number or a 0-d array/tensor, and may be left out when they have a default.

        Returns:
            One numpy array per output, in signature order.

        Raises:
            InputError: the inputs do not fit the signature (count, names, scalar vs tensor,
                kind); raised before anything runs, the session stays usable.
            NativeError: the interpreter refused to run (message prefixed by its kind).
        """
        from .errors import InputError

        if len(inputs) > len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} input(s) {self._describe()}, got {len(inputs)}")
        extra = sorted(set(named) - {s.name for s in self.inputs})
        if extra:
            raise InputError(f"unexpected input(s) {extra}; the model takes {self._describe()}")
        twice = [s.name for s in self.inputs[: len(inputs)] if s.name in named]
        if twice:
            raise InputError(f"input(s) {twice} given both positionally and by name")
        values = list(inputs) + [named.get(s.name, _MISSING) for s in self.inputs[len(inputs) :]]
        raw = []
        for spec, x in zip(self.inputs, values):
            if x is _MISSING:
                if not spec.has_default:
                    raise InputError(
                        f"missing input '{spec.name}' (it has no default); the model takes {self._describe()}"
                    )
                x = spec.default
            if spec.scalar is not None:
                a = scalar_input(spec, x)
                check_fixed(spec, a)
            elif _is_tensor_like(x):
                a = to_numpy(x)
            else:
                raise InputError(
                    f"input '{spec.name}' is a tensor ({spec}), got {type(x).__name__} {x!r} "
                    "(pass a numpy array or a torch tensor)"
                )
            raw.append(raw_from_numpy(a))
        return [numpy_from_raw(*o) for o in self._native.run(raw)]

    def _describe(self) -> str:
        return "[" + ", ".join(str(s) for s in self.inputs) + "]"

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
        """The bytes of the asset ``name`` the file ships with (e.g. ``"tokenizer.json"``).

        Returns:
            A copy of the asset's bytes, or ``None`` when the file has none of that name.
        """
        return self._native.asset(name)

    def asset_names(self) -> List[str]:
        """Names of the file's assets, in file order (empty when it has none)."""
        return list(self._native.asset_names())

    def reset_state(self) -> None:
        """Put every state tensor back to its initial value (a new conversation)."""
        self._native.reset_state()

    def write_stats(self, reset: bool = False) -> Tuple[int, int]:
        """Count the bytes in-place state writes moved since the last reset of these counters.

        Args:
            reset: set the counters back to zero after reading them.

        Returns:
            ``(bytes_written, bytes_copied)``; a KV-cache decode step writes one token's keys
            and values and copies nothing.
        """
        return tuple(self._native.write_stats(reset))

    def trace(self, *inputs: Any) -> Tuple[List[np.ndarray], List[Tuple[str, np.ndarray]]]:
        """Run once recording every value an instruction writes: (outputs, [(name, array), ...])."""
        self._native.set_trace(True)
        try:
            outs = self.run_flat(*inputs)
            entries = [(n, numpy_from_raw(d, s, b)) for n, d, s, b in self._native.take_trace()]
        finally:
            self._native.set_trace(False)
        return outs, entries

    def __repr__(self) -> str:
        return f"Session({self.path!r}, inputs={self.inputs}, outputs={self.outputs})"


def _flatten_input(tree: Dict[str, Any], x: Any, out: List[Any]) -> None:
    """Append the tensors of the nested input ``x`` that ``tree`` describes to ``out``."""
    from .errors import InputError

    if "t" in tree:
        out.append(x)
    elif "const" in tree:
        if x is not None and x != tree["const"]:
            raise InputError(f"this input was fixed to {tree['const']!r} at export, got {x!r}")
    elif "dict" in tree:
        if not isinstance(x, dict):
            raise InputError(f"expected a dict with keys {[k for k, _ in tree['dict']]}, got {type(x).__name__}")
        for k, n in tree["dict"]:
            if k not in x:
                raise InputError(f"missing key {k!r} in a dict input")
            _flatten_input(n, x[k], out)
    else:
        items: List[Any] = tree["list"] if "list" in tree else tree["tuple"]
        if not isinstance(x, (list, tuple)) or len(x) != len(items):
            raise InputError(
                f"expected a list of {len(items)} item(s) (the file was exported for that many), got {type(x).__name__}"
                + (f" of {len(x)}" if isinstance(x, (list, tuple)) else "")
            )
        for n, v in zip(items, x):
            _flatten_input(n, v, out)


def load(path: Union[str, "os.PathLike[str]", bytes], *, prepack_budget: Optional[int] = None) -> Session:
    """Load a ``.wtb`` file into a native interpreter session.

    Args:
        path: the file's path, or its bytes.
        prepack_budget: bytes the session may spend on packed weight copies; see
            :meth:`Session.set_prepack_budget` (default 256 MiB).

    Returns:
        The session: ``run``, ``inputs``, ``outputs``, ``states``, assets.

    Raises:
        NativeError: the file is invalid (``bad_file:``) or uses ops this interpreter does
            not implement (``unsupported_ops:``).
    """
    from . import _native

    if isinstance(path, (bytes, bytearray)):
        s = Session(_native.NativeSession.from_bytes(bytes(path)), "<bytes>")
    else:
        s = Session(_native.NativeSession(os.fspath(path)), os.fspath(path))
    if prepack_budget is not None:
        s.set_prepack_budget(prepack_budget)
    return s
