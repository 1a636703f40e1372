"""Choosing the next token from a step's logits: the distribution transforms of Hugging Face
``generate`` (repetition penalty, then temperature, top-k and top-p), in numpy.

:func:`next_token_distribution` is the whole transform as a function of the logits and the
token history, so it can be tested on given logits; :func:`choose` applies it and picks greedily
or samples with a seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .errors import InvalidGenerationArgumentError


@dataclass(frozen=True)
class SamplingOptions:
    """How a token is chosen. Greedy (the arg max after the repetition penalty) unless
    ``do_sample``; when sampling, ``temperature`` divides the logits, ``top_k`` keeps the k
    largest (0: all; ties with the k-th are kept), ``top_p`` keeps the smallest set of most
    probable tokens whose probabilities sum to at least ``top_p`` (1.0: all).
    ``repetition_penalty`` (> 1 discourages) divides positive and multiplies negative logits of
    every token already in the prompt or the output."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    def check(self) -> None:
        """Raise :class:`InvalidGenerationArgumentError` for an out-of-range option."""
        bad = []
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            bad.append(f"temperature must be > 0, got {self.temperature}")
        if not isinstance(self.top_k, (int, np.integer)) or self.top_k < 0:
            bad.append(f"top_k must be an integer >= 0, got {self.top_k!r}")
        if not (0.0 < self.top_p <= 1.0):
            bad.append(f"top_p must be in (0, 1], got {self.top_p}")
        if not (np.isfinite(self.repetition_penalty) and self.repetition_penalty > 0):
            bad.append(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if bad:
            raise InvalidGenerationArgumentError("; ".join(bad))


def penalized_logits(logits: np.ndarray, history: Sequence[int], penalty: float) -> np.ndarray:
    """Apply the repetition penalty to the tokens in ``history``.

    Returns:
        A float64 copy of ``logits`` where each logit ``x`` of a token in ``history`` becomes
        ``x / penalty`` if ``x > 0`` else ``x * penalty``.
    """
    x = np.asarray(logits, dtype=np.float64).copy()
    if penalty != 1.0 and len(history):
        ids = np.unique(np.asarray(history, dtype=np.int64))
        v = x[ids]
        x[ids] = np.where(v > 0, v / penalty, v * penalty)
    return x


def next_token_distribution(logits: np.ndarray, history: Sequence[int], opts: SamplingOptions) -> np.ndarray:
    """The probabilities sampling draws the next token from.

    Returns:
        A float64 vector over the vocabulary summing to 1, zero for the tokens top-k/top-p
        removed; for greedy options, all mass on the arg max.
    """
    x = penalized_logits(logits, history, opts.repetition_penalty)
    if not opts.do_sample:
        p = np.zeros_like(x)
        p[int(np.argmax(x))] = 1.0
        return p
    x = x / opts.temperature
    if 0 < opts.top_k < x.size:
        kth = np.partition(x, -opts.top_k)[-opts.top_k]
        x[x < kth] = -np.inf
    p = np.exp(x - x.max())
    p /= p.sum()
    if opts.top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        # the smallest prefix whose sum reaches top_p (at least one token)
        n = min(int(np.searchsorted(cum, opts.top_p)) + 1, order.size)
        q = np.zeros_like(p)
        q[order[:n]] = p[order[:n]]
        p = q / q.sum()
    return p


def choose(
    logits: np.ndarray, history: Sequence[int], opts: SamplingOptions, rng: Optional[np.random.Generator]
) -> int:
    """The next token: the arg max (greedy) or a draw from :func:`next_token_distribution`."""
    if not opts.do_sample:
        return int(np.argmax(penalized_logits(logits, history, opts.repetition_penalty)))
    p = next_token_distribution(logits, history, opts)
    if rng is None:
        rng = np.random.default_rng()
    # inverse-CDF draw: one uniform per token, so a seed fixes the whole sequence
    u = rng.random()
    idx = int(np.searchsorted(np.cumsum(p), u * p.sum(), side="right"))
    nz = np.flatnonzero(p)
    return int(min(max(idx, nz[0]), nz[-1]))
