"""Token-level generation over an exported decoder LM (ids in, ids out), for callers that
tokenize themselves (benchmarks, tests against ``transformers``). For text, chat templates,
streaming and stop strings use :class:`wasm_torch.llm.TextGenerator`, which reads the
tokenizer and settings the file ships with.

The model file takes ``input_ids: i64[1, seq]`` and ``cache_position: i64[seq]`` and returns
``logits: f32[1, seq, vocab]``; its KV cache lives in the session (format 1.1 state), so a
step only feeds the new tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Sequence

import numpy as np

from .llm.errors import GenerationError, InvalidGenerationArgumentError, NotALanguageModelError, PromptTooLongError
from .llm.generator import token_steps
from .llm.sampling import SamplingOptions

__all__ = ["GenerationError", "GenerationResult", "cache_length", "chat_prompt_ids", "generate"]


@dataclass
class GenerationResult:
    """New token ids, and per step the logits they were chosen from when asked for."""

    tokens: List[int]
    logits: List[np.ndarray] = field(default_factory=list)
    stopped_by: str = "max_new_tokens"  # "max_new_tokens" | "stop_id" | "callback" | "cache_full"


def cache_length(session: Any) -> int:
    """The KV cache length (positions) of an exported decoder LM.

    Args:
        session: a :class:`wasm_torch.Session` of a decoder LM exported with a static cache.

    Returns:
        The size of the cache state's sequence axis (``[batch, heads, positions, head_dim]``):
        the most tokens, prompt included, one sequence can hold.

    Raises:
        NotALanguageModelError: the model has no 4-d session state (no KV cache).
    """
    states = [s for s in session.states if len(s.shape) == 4]
    if not states:
        raise NotALanguageModelError(
            "the model has no KV-cache state; export it with a static cache "
            "(wasm_torch.llm.export_causal_lm, see py-export/README.md 'Exporting decoder LMs')"
        )
    return int(states[0].shape[2])


def generate(
    session: Any,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    stop_ids: Iterable[int] = (),
    seed: Optional[int] = None,
    on_token: Optional[Callable[[int], Optional[bool]]] = None,
    return_logits: bool = False,
) -> GenerationResult:
    """Generate up to ``max_new_tokens`` after ``prompt_ids``, starting from a reset KV cache.

    The same loop as the JavaScript SDK's: the prompt is prefilled in one run, then one token
    per run is chosen from the last logits row and fed back.

    Args:
        session: a :class:`wasm_torch.Session` of a decoder LM (inputs ``input_ids`` and
            ``cache_position``, its KV cache as session state).
        prompt_ids: the prompt's token ids (at least one, fewer than the cache length).
        max_new_tokens: the most tokens to make (at least 1); a full cache ends earlier.
        do_sample: draw from the distribution instead of taking the most likely token.
        temperature: logits are divided by it before sampling.
        top_k: keep only the K most likely tokens when sampling; 0 keeps all.
        top_p: keep the smallest set of most likely tokens reaching this probability; 1 keeps all.
        repetition_penalty: divides positive (multiplies negative) logits of tokens already
            seen; 1 is off.
        stop_ids: token ids that end generation; the stop id is included in ``tokens``.
        seed: the sampler's random seed (sampling only).
        on_token: called with each token id as it is made; returning ``False`` stops.
        return_logits: keep each step's logits row in the result.

    Returns:
        The new tokens and why generation stopped (``stopped_by``: ``"max_new_tokens"``,
        ``"stop_id"``, ``"callback"`` or ``"cache_full"``), with the logits when asked for.

    Raises:
        NotALanguageModelError: the session is not a decoder LM with a KV cache.
        InvalidGenerationArgumentError: an empty prompt or an argument out of range.
        PromptTooLongError: the prompt leaves no room in the KV cache for a new token.
    """
    names = [s.name for s in session.inputs]
    if len(names) != 2:
        raise NotALanguageModelError(f"a decoder LM file takes (input_ids, cache_position); this one takes {names}")
    cache = cache_length(session)
    prompt = [int(t) for t in prompt_ids]
    if not prompt:
        raise InvalidGenerationArgumentError("the prompt is empty")
    if len(prompt) >= cache:
        raise PromptTooLongError(
            f"prompt of {len(prompt)} tokens does not fit the model's KV cache of {cache} positions"
        )
    if max_new_tokens < 1:
        raise InvalidGenerationArgumentError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    opts = SamplingOptions(do_sample, float(temperature), top_k, float(top_p), float(repetition_penalty))
    opts.check()
    rng = np.random.default_rng(seed) if do_sample else None
    result = GenerationResult(tokens=[])
    for tok, logits, stop in token_steps(session, prompt, max_new_tokens, opts, list(stop_ids), rng, cache, names):
        result.tokens.append(tok)
        if return_logits:
            result.logits.append(np.array(logits, copy=True))
        if stop is not None:
            result.stopped_by = stop
            break
        if on_token is not None and on_token(tok) is False:
            result.stopped_by = "callback"
            break
    return result


def chat_prompt_ids(tokenizer: Any, messages: List[dict]) -> List[int]:
    """Token ids of ``messages`` through a ``transformers`` tokenizer's chat template.

    This is the reference :meth:`wasm_torch.llm.TextGenerator.encode_chat` is tested against.

    Args:
        tokenizer: a ``transformers`` tokenizer with a chat template.
        messages: chat turns as ``{"role": ..., "content": ...}`` dicts.

    Returns:
        The prompt's token ids, with the assistant turn opened.
    """
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return [int(t) for t in out]
