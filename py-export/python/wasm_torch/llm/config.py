"""``generation.json``: what a decoder-LM file says about generating with it (schema
``wasm-torch-generation/1``, docs/llm.md), parsed and checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .errors import MissingAssetError

FORMAT = "wasm-torch-generation/1"
TOKENIZER_ASSET = "tokenizer.json"
GENERATION_ASSET = "generation.json"


@dataclass(frozen=True)
class GenerationConfig:
    """The parsed ``generation.json``."""

    max_cache_len: int
    vocab_size: int
    eos_token_ids: List[int]
    bos_token_id: Optional[int] = None
    pad_token_id: Optional[int] = None
    chat_template: Optional[str] = None
    special_tokens: Dict[str, str] = field(default_factory=dict)
    input_ids: str = "input_ids"
    cache_position: str = "cache_position"
    logits_output: str = "logits"

    def to_json(self) -> Dict[str, Any]:
        """The ``generation.json`` object for this config."""
        return {
            "format": FORMAT,
            "max_cache_len": self.max_cache_len,
            "vocab_size": self.vocab_size,
            "bos_token_id": self.bos_token_id,
            "eos_token_ids": list(self.eos_token_ids),
            "pad_token_id": self.pad_token_id,
            "chat_template": self.chat_template,
            "special_tokens": dict(self.special_tokens),
            "inputs": {"input_ids": self.input_ids, "cache_position": self.cache_position},
            "logits_output": self.logits_output,
        }

    @staticmethod
    def from_bytes(data: bytes) -> "GenerationConfig":
        """Parse and check ``generation.json``; :class:`MissingAssetError` says what is wrong."""
        try:
            j = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise MissingAssetError(f"generation.json is not UTF-8 JSON: {e}") from e
        if not isinstance(j, dict) or j.get("format") != FORMAT:
            got = j.get("format") if isinstance(j, dict) else type(j).__name__
            raise MissingAssetError(f"generation.json has format {got!r}; this reader knows {FORMAT!r}")

        def int_(key: str, optional: bool = False) -> Optional[int]:
            v = j.get(key)
            if v is None and optional:
                return None
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise MissingAssetError(f"generation.json: {key} must be a non-negative integer, got {v!r}")
            return v

        eos = j.get("eos_token_ids")
        if not isinstance(eos, list) or not all(isinstance(e, int) and not isinstance(e, bool) for e in eos):
            raise MissingAssetError(f"generation.json: eos_token_ids must be a list of integers, got {eos!r}")
        inputs = j.get("inputs") or {}
        special = j.get("special_tokens") or {}
        template = j.get("chat_template")
        strings = [inputs.get("input_ids", "input_ids"), inputs.get("cache_position", "cache_position")]
        if (
            not isinstance(inputs, dict)
            or not isinstance(special, dict)
            or not all(isinstance(v, str) for v in special.values())
            or not (template is None or isinstance(template, str))
            or not all(isinstance(s, str) for s in strings + [j.get("logits_output", "logits")])
        ):
            raise MissingAssetError(
                "generation.json: inputs/special_tokens/chat_template/logits_output have the wrong types"
            )
        cache, vocab = int_("max_cache_len"), int_("vocab_size")
        assert cache is not None and vocab is not None
        if cache < 2:
            raise MissingAssetError(f"generation.json: max_cache_len {cache} leaves no room to generate")
        return GenerationConfig(
            max_cache_len=cache,
            vocab_size=vocab,
            eos_token_ids=[int(e) for e in eos],
            bos_token_id=int_("bos_token_id", optional=True),
            pad_token_id=int_("pad_token_id", optional=True),
            chat_template=template,
            special_tokens={str(k): str(v) for k, v in special.items()},
            input_ids=strings[0],
            cache_position=strings[1],
            logits_output=j.get("logits_output", "logits"),
        )
