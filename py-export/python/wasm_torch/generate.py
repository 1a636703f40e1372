"""Text generation over an exported decoder LM with a static KV cache (session state).

The model file takes ``input_ids: i64[1, seq]`` and ``cache_position: i64[seq]`` and returns
``logits: f32[1, seq, vocab]``; its KV cache lives in the session (format 1.1 state), so a
step only feeds the new tokens. :func:`generate` runs prefill (the whole prompt in one run)
then one run per new token, choosing each token greedily or by sampling (temperature, top-k,
top-p, repetition penalty), and stops at a stop id or ``max_new_tokens``. Tokenizing and the
chat template are left to a maintained library (``tokenizers`` / ``transformers``); see
:func:`chat_prompt_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Sequence

import numpy as np


class GenerationError(ValueError):
    """A generate call that cannot run: no KV-cache state, a prompt longer than the cache, ..."""


@dataclass
class GenerationResult:
    """New token ids, and per step the logits they were chosen from when asked for."""

    tokens: List[int]
    logits: List[np.ndarray] = field(default_factory=list)
    stopped_by: str = "max_new_tokens"  # "max_new_tokens" | "stop_id" | "callback"


def _input_names(session: Any) -> Sequence[str]:
    names = [s.name for s in session.inputs]
    if len(names) != 2:
        raise GenerationError(
            f"a decoder LM file takes (input_ids, cache_position); this one takes {names}")
    return names


def cache_length(session: Any) -> int:
    """The KV cache length (positions) of an exported decoder LM: the size of the cache state's
    sequence axis (``[batch, heads, positions, head_dim]``)."""
    states = [s for s in session.states if len(s.shape) == 4]
    if not states:
        raise GenerationError("the model has no KV-cache state; export it with a static cache "
                              "(see py-export/README.md, 'Exporting decoder LMs')")
    return int(states[0].shape[2])


def _choose(logits: np.ndarray, history: Sequence[int], rng: np.random.Generator, *,
            do_sample: bool, temperature: float, top_k: int, top_p: float,
            repetition_penalty: float) -> int:
    x = logits.astype(np.float64, copy=True)
    if repetition_penalty != 1.0 and history:
        ids = np.unique(np.asarray(history, dtype=np.int64))
        v = x[ids]
        x[ids] = np.where(v > 0, v / repetition_penalty, v * repetition_penalty)
    if not do_sample:
        return int(np.argmax(x))
    x = x / max(temperature, 1e-6)
    if 0 < top_k < x.size:
        kth = np.partition(x, -top_k)[-top_k]
        x[x < kth] = -np.inf
    p = np.exp(x - x.max())
    p /= p.sum()
    if 0.0 < top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(p.size, p=p))


def generate(session: Any, prompt_ids: Sequence[int], *, max_new_tokens: int = 64,
             do_sample: bool = False, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, repetition_penalty: float = 1.0,
             stop_ids: Iterable[int] = (), seed: Optional[int] = None,
             on_token: Optional[Callable[[int], Optional[bool]]] = None,
             return_logits: bool = False, reset: bool = True) -> GenerationResult:
    """Generate up to ``max_new_tokens`` after ``prompt_ids`` on ``session`` (from
    :func:`wasm_torch.load`). Greedy unless ``do_sample``. ``on_token(id)`` is called as each
    token is made (streaming); returning ``False`` stops. ``reset`` clears the KV cache first
    (a new conversation). A stop id ends generation and is included in ``tokens``.
    """
    ids_name, pos_name = _input_names(session)
    cache = cache_length(session)
    prompt = [int(t) for t in prompt_ids]
    if not prompt:
        raise GenerationError("the prompt is empty")
    if len(prompt) + max_new_tokens > cache:
        raise GenerationError(
            f"prompt of {len(prompt)} tokens + {max_new_tokens} new tokens exceeds the model's "
            f"KV cache of {cache} positions")
    stops = {int(s) for s in stop_ids}
    rng = np.random.default_rng(seed)
    if reset:
        session.reset_state()
    result = GenerationResult(tokens=[])
    history = list(prompt)
    feed, pos = prompt, 0
    for _ in range(max_new_tokens):
        n = len(feed)
        out = session.run(**{
            ids_name: np.asarray([feed], dtype=np.int64),
            pos_name: np.arange(pos, pos + n, dtype=np.int64),
        })[0]
        last = out[0, -1]
        if return_logits:
            result.logits.append(last.copy())
        tok = _choose(last, history, rng, do_sample=do_sample, temperature=temperature,
                      top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)
        result.tokens.append(tok)
        history.append(tok)
        pos += n
        feed = [tok]
        if tok in stops:
            result.stopped_by = "stop_id"
            break
        if on_token is not None and on_token(tok) is False:
            result.stopped_by = "callback"
            break
    return result


def chat_prompt_ids(tokenizer: Any, messages: List[dict]) -> List[int]:
    """Token ids of ``messages`` through the tokenizer's chat template (a ``transformers``
    tokenizer), with the assistant turn opened."""
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return [int(t) for t in out]
