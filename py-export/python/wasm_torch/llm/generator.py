"""Text generation over a decoder-LM ``.wtb`` file that ships its tokenizer and
``generation.json`` as assets (see :func:`wasm_torch.llm.export_causal_lm`).

One :class:`TextGenerator` wraps one :class:`wasm_torch.Session`: the KV cache is that
session's state, so one conversation runs at a time. Every generation starts by resetting the
state (prefill of the whole prompt, then one run per new token), which is what keeps the
session usable after an error or a stream the caller stopped reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Sequence, Union

import numpy as np

from .chat import render_chat
from .config import GENERATION_ASSET, TOKENIZER_ASSET, GenerationConfig
from .errors import (
    GenerationInterruptedError,
    InvalidGenerationArgumentError,
    MissingAssetError,
    NotALanguageModelError,
    PromptTooLongError,
)
from .sampling import SamplingOptions, choose


@dataclass
class Piece:
    """One generated token as it is made: its id, the text it adds (may be ``""`` while the
    text is held back: an incomplete UTF-8 sequence or a possible start of a stop string), and
    the logits it was chosen from when asked for (``output_logits=True``)."""

    token: int
    text: str
    logits: Optional[np.ndarray] = None


@dataclass
class GenerationResult:
    """A finished generation. ``tokens`` are the new ids (a stop id that ended it included, as
    ``transformers`` does); ``text`` their decoded text without special tokens, cut before a
    stop string. ``stopped_by``: ``"max_new_tokens"``, ``"stop_id"``, ``"stop_string"`` or
    ``"cache_full"`` (the KV cache has no position left)."""

    prompt_ids: List[int]
    tokens: List[int] = field(default_factory=list)
    text: str = ""
    stopped_by: str = "max_new_tokens"
    logits: List[np.ndarray] = field(default_factory=list)


def token_steps(
    session: Any,
    prompt: Sequence[int],
    max_new_tokens: int,
    opts: SamplingOptions,
    stop_ids: Sequence[int],
    rng: Optional[np.random.Generator],
    cache_len: int,
    input_names: Sequence[str] = ("input_ids", "cache_position"),
    logits_index: int = 0,
    min_new_tokens: int = 0,
    suppress_ids: Sequence[int] = (),
) -> Iterator[tuple]:
    """The token loop: reset the state, prefill ``prompt``, then decode one token per run.

    ``prompt`` must be shorter than ``cache_len``. While fewer than ``min_new_tokens`` are
    made, ``suppress_ids`` cannot be chosen (``transformers``' ``min_new_tokens``).

    Yields:
        ``(token, logits, stop)`` per step: the chosen id, the step's raw logits row, and
        ``stop`` (``None``, ``"stop_id"`` or ``"cache_full"``, after which the loop ends); the
        caller may stop early at any time.
    """
    ids_name, pos_name = input_names
    session.reset_state()
    history = list(prompt)
    feed, pos = list(prompt), 0
    stops = set(int(s) for s in stop_ids)
    suppress = np.asarray(sorted(set(int(s) for s in suppress_ids)), dtype=np.int64)
    for step in range(max_new_tokens):
        n = len(feed)
        out = session.run(
            **{ids_name: np.asarray([feed], dtype=np.int64), pos_name: np.arange(pos, pos + n, dtype=np.int64)}
        )[logits_index]
        last = out[0, -1]
        x = last
        if step < min_new_tokens and suppress.size:
            x = last.astype(np.float64)
            x[suppress] = -np.inf
        tok = choose(x, history, opts, rng)
        history.append(tok)
        pos += n
        feed = [tok]
        if tok in stops:
            yield tok, last, "stop_id"
            return
        if pos >= cache_len:
            yield tok, last, "cache_full"
            return
        yield tok, last, None


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many characters at the end of ``text`` must not be shown yet.

    Returns:
        The length of the longest tail of ``text`` that could be the start of a stop string
        or an incomplete UTF-8 sequence (decoded as U+FFFD).
    """
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    if text.endswith("\ufffd"):
        hold = max(hold, len(text) - len(text.rstrip("\ufffd")))
    return hold


class GenerationStream:
    """The iterator :meth:`TextGenerator.stream` returns: yields a :class:`Piece` per token;
    ``result`` fills in as it goes and is complete once the iteration ends. Stopping early
    (``break``, ``close()``) is fine: the next generation resets the KV cache."""

    def __init__(
        self,
        gen: "TextGenerator",
        steps: Iterator[tuple],
        result: GenerationResult,
        stops: Sequence[str],
        output_logits: bool,
    ):
        self._gen = gen
        self._steps = steps
        self.result = result
        self._stops = list(stops)
        self._shown = 0
        self._logits = output_logits
        self._done = False

    def __iter__(self) -> "GenerationStream":
        return self

    def close(self) -> None:
        """Stop generating (nothing else to release)."""
        self._done = True

    def __next__(self) -> Piece:
        if self._done:
            raise StopIteration
        if self._gen._active is not self:
            self._done = True
            raise GenerationInterruptedError("another generation started on this session; this stream cannot continue")
        try:
            tok, logits, stop = next(self._steps)
        except StopIteration:
            self._done = True
            raise
        except BaseException:
            self._done = True
            raise
        r = self.result
        r.tokens.append(tok)
        if self._logits:
            r.logits.append(np.array(logits, copy=True))
        full = self._gen.decode(r.tokens)
        text_end, hit = len(full), None
        for s in self._stops:
            i = full.find(s, max(0, self._shown - len(s)))
            if i >= 0 and (hit is None or i < text_end):
                text_end, hit = i, s
        if hit is not None:
            stop = "stop_string"
        elif stop is None and len(r.tokens) < self._max_new:
            text_end -= _held_back(full, self._stops)
        piece = Piece(tok, full[self._shown : max(text_end, self._shown)], r.logits[-1] if self._logits else None)
        self._shown = max(text_end, self._shown)
        r.text = full[: self._shown]
        if stop is not None or len(r.tokens) >= self._max_new:
            r.stopped_by = stop or "max_new_tokens"
            self._done = True
        return piece

    _max_new = 0


class TextGenerator:
    """Generate text with a decoder-LM session whose file carries ``tokenizer.json`` and
    ``generation.json`` (the ``tokenizers`` library tokenizes; the chat template is rendered
    with ``jinja2``). Typed errors: :mod:`wasm_torch.llm.errors`."""

    def __init__(self, session: Any):
        self.session = session
        if not session.states:
            raise NotALanguageModelError(
                "the model has no session state (KV cache); export it with wasm_torch.llm.export_causal_lm"
            )
        gen_bytes, tok_bytes = session.asset(GENERATION_ASSET), session.asset(TOKENIZER_ASSET)
        missing = [n for n, b in ((GENERATION_ASSET, gen_bytes), (TOKENIZER_ASSET, tok_bytes)) if b is None]
        if missing:
            raise MissingAssetError(
                f"the file has no {' or '.join(missing)} asset (it has {session.asset_names()}); "
                "export it with wasm_torch.llm.export_causal_lm"
            )
        assert gen_bytes is not None and tok_bytes is not None
        self.config = GenerationConfig.from_bytes(gen_bytes)
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_str(tok_bytes.decode("utf-8"))
        except Exception as e:  # the tokenizers library raises its own Exception types
            raise MissingAssetError(f"tokenizer.json does not load: {e}") from e
        names = [s.name for s in session.inputs]
        c = self.config
        if sorted(names) != sorted([c.input_ids, c.cache_position]):
            raise NotALanguageModelError(
                f"generation.json names inputs {[c.input_ids, c.cache_position]}; the model takes {names}"
            )
        outs = [s.name for s in session.outputs]
        if c.logits_output not in outs:
            raise NotALanguageModelError(f"generation.json names output {c.logits_output!r}; the model has {outs}")
        self._logits_index = outs.index(c.logits_output)
        self._active: Optional[GenerationStream] = None

    @classmethod
    def load(cls, path: Any, **load_kwargs: Any) -> "TextGenerator":
        """Load a file with :func:`wasm_torch.load` and wrap it."""
        from .._session import load

        return cls(load(path, **load_kwargs))

    def apply_chat_template(self, messages: Any, add_generation_prompt: bool = True) -> str:
        """The prompt text for chat ``messages`` (``[{"role": ..., "content": ...}]``)."""
        if not self.config.chat_template:
            raise MissingAssetError("generation.json has no chat_template; pass prompt= or prompt_ids= instead")
        return render_chat(self.config.chat_template, messages, self.config.special_tokens, add_generation_prompt)

    def encode(self, text: str) -> List[int]:
        """Token ids of ``text`` as is (no special tokens added; a chat template writes its own)."""
        if not isinstance(text, str):
            raise InvalidGenerationArgumentError(f"prompt must be a str, got {type(text).__name__}")
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def encode_chat(self, messages: Any) -> List[int]:
        """Token ids of chat ``messages`` with the assistant turn opened."""
        return self.encode(self.apply_chat_template(messages))

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def _prompt_ids(self, prompt: Optional[str], messages: Any, prompt_ids: Optional[Sequence[int]]) -> List[int]:
        given = [x is not None for x in (prompt, messages, prompt_ids)]
        if sum(given) != 1:
            raise InvalidGenerationArgumentError("give exactly one of prompt=, messages= or prompt_ids=")
        if messages is not None:
            ids = self.encode_chat(messages)
        elif prompt is not None:
            ids = self.encode(prompt)
        else:
            try:
                ids = [int(t) for t in prompt_ids]  # type: ignore[union-attr]
            except (TypeError, ValueError) as e:
                raise InvalidGenerationArgumentError(f"prompt_ids must be a sequence of ints: {e}") from e
            bad = [t for t in ids if not 0 <= t < self.config.vocab_size]
            if bad:
                raise InvalidGenerationArgumentError(
                    f"prompt_ids {bad[:5]} are outside the vocabulary (0..{self.config.vocab_size - 1})"
                )
        if not ids:
            raise InvalidGenerationArgumentError("the prompt is empty")
        if len(ids) >= self.config.max_cache_len:
            raise PromptTooLongError(
                f"the prompt has {len(ids)} tokens; the model's KV cache holds {self.config.max_cache_len} "
                "positions, so a prompt may have at most "
                f"{self.config.max_cache_len - 1}"
            )
        return ids

    def stream(
        self,
        prompt: Optional[str] = None,
        *,
        messages: Any = None,
        prompt_ids: Optional[Sequence[int]] = None,
        max_new_tokens: int = 256,
        min_new_tokens: int = 0,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        stop: Union[str, Sequence[str]] = (),
        stop_ids: Optional[Sequence[int]] = None,
        seed: Optional[int] = None,
        output_logits: bool = False,
    ) -> GenerationStream:
        """Start a generation and return an iterator of :class:`Piece` (one per token, as it is made).

        The prompt is ``prompt`` (text, tokenized as is), ``messages`` (chat, through
        the chat template) or ``prompt_ids``. Greedy unless ``do_sample`` (see
        :class:`~wasm_torch.llm.sampling.SamplingOptions`; ``seed`` makes sampling
        reproducible). Stops after ``max_new_tokens``, at a ``stop_ids`` token (default: the
        model's EOS ids; ``[]`` for none), when the text contains a ``stop`` string (cut from
        the text), or when the KV cache is full. Until ``min_new_tokens`` are made, the EOS and
        stop ids cannot be chosen (as in ``transformers``). Arguments are checked here, before anything runs.

        Returns:
            The stream; its ``result`` holds the whole :class:`GenerationResult` once it ends.

        Raises:
            InvalidGenerationArgumentError: a sampling option, ``max_new_tokens``,
                ``min_new_tokens``, a stop string or the prompt is invalid.
            PromptTooLongError: the prompt leaves no room in the KV cache for a new token.

        A new stream takes over the KV cache: a stream started earlier on this generator
        raises :class:`GenerationInterruptedError` when iterated again.
        """
        opts = SamplingOptions(do_sample, float(temperature), top_k, float(top_p), float(repetition_penalty))
        opts.check()
        if not isinstance(max_new_tokens, (int, np.integer)) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
            raise InvalidGenerationArgumentError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        if not isinstance(min_new_tokens, (int, np.integer)) or min_new_tokens < 0:
            raise InvalidGenerationArgumentError(f"min_new_tokens must be an integer >= 0, got {min_new_tokens!r}")
        stops = [stop] if isinstance(stop, str) else list(stop)
        if not all(isinstance(s, str) and s for s in stops):
            raise InvalidGenerationArgumentError(f"stop strings must be non-empty strings, got {stops!r}")
        ids = self._prompt_ids(prompt, messages, prompt_ids)
        stop_list = self.config.eos_token_ids if stop_ids is None else [int(s) for s in stop_ids]
        rng = np.random.default_rng(seed) if do_sample else None
        c = self.config
        steps = token_steps(
            self.session, ids, int(max_new_tokens), opts, stop_list, rng, c.max_cache_len,
            (c.input_ids, c.cache_position), self._logits_index,
            int(min_new_tokens), list(c.eos_token_ids) + list(stop_list),
        )  # fmt: skip
        s = GenerationStream(self, steps, GenerationResult(prompt_ids=ids), stops, output_logits)
        s._max_new = int(max_new_tokens)
        self._active = s
        return s

    def generate(self, prompt: Optional[str] = None, **kwargs: Any) -> GenerationResult:
        """:meth:`stream` run to the end; returns the :class:`GenerationResult`."""
        s = self.stream(prompt, **kwargs)
        for _ in s:
            pass
        return s.result
