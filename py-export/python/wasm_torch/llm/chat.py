"""Chat messages → prompt text through the model's chat template (a Jinja template, as Hugging
Face tokenizers ship it), rendered with ``jinja2`` the way ``transformers`` renders it: a
sandboxed environment with ``trim_blocks``/``lstrip_blocks``, the ``loopcontrols`` extension,
``raise_exception``, ``strftime_now`` and a ``tojson`` that keeps non-ASCII text."""

from __future__ import annotations

import datetime
import json
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .errors import InvalidGenerationArgumentError, MissingAssetError


class TemplateError(InvalidGenerationArgumentError):
    """The chat template refused the messages (its ``raise_exception``) or failed to render."""

    code = "template_error"


def _raise(message: str) -> None:
    raise TemplateError(f"the chat template refused the messages: {message}")


def _tojson(
    x: Any, ensure_ascii: bool = False, indent: Optional[int] = None, separators: Any = None, sort_keys: bool = False
) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateError as e:
        raise MissingAssetError(f"generation.json's chat_template does not compile: {e}") from e


def check_messages(messages: Any) -> List[Dict[str, Any]]:
    """``messages`` as a list of dicts with string ``role`` and ``content``, or a typed error."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise InvalidGenerationArgumentError("messages must be a non-empty list of {'role': ..., 'content': ...}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise InvalidGenerationArgumentError(
                f"message {i} must be a dict with string 'role' and 'content', got {m!r}"
            )
        out.append(dict(m))
    return out


def render_chat(
    template: str, messages: Any, special_tokens: Mapping[str, str], add_generation_prompt: bool = True
) -> str:
    """The prompt text for ``messages``, as ``tokenizer.apply_chat_template(..., tokenize=False)``.

    Args:
        template: the Jinja chat template (Hugging Face convention).
        messages: chat turns as ``{"role": ..., "content": ...}`` dicts.
        special_tokens: the template's variables such as ``bos_token`` and ``eos_token``.
        add_generation_prompt: open the assistant turn at the end.

    Returns:
        The rendered prompt text.

    Raises:
        InvalidGenerationArgumentError: ``messages`` is not a list of role/content dicts.
        TemplateError: the template does not compile or fails while rendering.
    """
    import jinja2

    msgs = check_messages(messages)
    try:
        return str(
            _compile(template).render(
                messages=msgs, add_generation_prompt=add_generation_prompt, tools=None, documents=None, **special_tokens
            )
        )
    except TemplateError:
        raise
    except jinja2.TemplateError as e:
        raise TemplateError(f"the chat template failed: {e}") from e
