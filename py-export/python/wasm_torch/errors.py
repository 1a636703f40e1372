"""Exceptions the exporter raises, each with a message a user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional


@dataclass
class Problem:
    """One unsupported construct, with the Python source line PyTorch recorded for it."""

    message: str
    source: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.message}\n    at {self.source}" if self.source else self.message


class ExportError(Exception):
    """The model cannot be exported; ``problems`` lists every reason found, not only the first."""

    def __init__(self, problems: List[Problem], header: str = ""):
        self.problems = list(problems)
        head = header or f"cannot export the model: {len(self.problems)} problem(s)"
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}\n{body}")


class VerificationError(Exception):
    """The exported file's outputs differ from PyTorch's by more than the tolerance."""

    def __init__(self, message: str, report: Any = None):
        self.report = report
        super().__init__(message)


class InputError(TypeError):
    """The inputs given to :meth:`wasm_torch.Session.run` do not fit the model's signature: a
    Python number where a tensor is expected (or the reverse), a value of the wrong kind for a
    scalar input (a float for a bool), too many inputs, or a missing input without a default.
    Raised before anything runs, so the session stays usable. A ``TypeError`` subclass."""


class StructureError(ValueError):
    """The file's ``wasm_torch.io.json`` asset (the nesting of a model's inputs and outputs,
    format-spec §4.10.1) is malformed; :meth:`wasm_torch.Session.run_flat` still works."""
