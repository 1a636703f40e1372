"""wasm_torch: export PyTorch models to ``.wtb`` files and run them with the native interpreter.

- :func:`export`: ``export(model, example_inputs, path, *, frontend="auto", dynamic_shapes=None,
  weights="f32", input_names=None, output_names=None, verify=True) -> ExportReport``
- :func:`load`: ``load(path, *, prepack_budget=None) -> Session`` with ``.run(*inputs) -> [numpy arrays]``, ``.inputs``,
  ``.outputs``. Interpreter failures (a bad file, unsupported ops, wrong inputs, an op that
  refuses its arguments) raise :class:`NativeError`, whose message starts with the kind.
  Scalar inputs (TorchScript ``int``/``float``/``bool`` arguments, torch.export ``SymInt``s)
  take a Python number or a 0-d array and may be omitted when they have a default; inputs
  that do not fit the signature raise :class:`InputError` (a ``TypeError``) before running.

``frontend="auto"`` tries torch.export (non-strict) first and falls back to torch.jit.trace;
``"script"`` compiles with torch.jit.script (for data-dependent ``if``/loops, which become
bytecode jumps). ``weights="f16"`` stores float weights as half; ``"int8"`` quantizes
linear/conv weights per output channel. ``verify=True`` runs the file natively on the example
inputs and raises :class:`VerificationError` when it differs from PyTorch by more than
:data:`TOLERANCES` (relative to each output's largest magnitude).
"""

from ._export import TOLERANCES, ExportReport, OutputCheck, __version__, export
from ._native import NativeError
from ._session import Session, TensorSpec, load
from .errors import ExportError, InputError, Problem, StructureError, VerificationError

__all__ = [
    "export",
    "load",
    "ExportReport",
    "OutputCheck",
    "Session",
    "TensorSpec",
    "ExportError",
    "InputError",
    "Problem",
    "VerificationError",
    "StructureError",
    "NativeError",
    "TOLERANCES",
    "__version__",
]
