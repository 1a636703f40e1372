"""Typed errors of text generation. Each has a stable ``code`` (the same strings the JS SDK
uses where it has the same error) so callers can branch without parsing messages."""

from __future__ import annotations


class GenerationError(Exception):
    """A generate call that cannot run. ``code`` names the kind of problem."""

    code = "generation_error"


class NotALanguageModelError(GenerationError):
    """The model has no KV-cache state (it was not exported as a decoder LM with a static
    cache), or its inputs/outputs are not those ``generation.json`` names."""

    code = "not_a_language_model"


class MissingAssetError(GenerationError):
    """The file lacks an asset generation needs (``tokenizer.json``, ``generation.json``), or
    the asset is not what its schema says."""

    code = "missing_asset"


class PromptTooLongError(GenerationError):
    """The prompt does not fit in the KV cache with room for one new token."""

    code = "prompt_too_long"


class InvalidGenerationArgumentError(GenerationError, ValueError):
    """A generation option is out of range (``top_p`` of 2, a negative ``max_new_tokens``...)
    or the prompt is given in none or several forms."""

    code = "invalid_argument"


class GenerationInterruptedError(GenerationError):
    """A streamed generation was resumed after another generation on the same generator
    started: the KV cache now holds the other conversation."""

    code = "interrupted"
