"""Exporting a Hugging Face causal LM as one ``.wtb`` file that can generate on its own: the
model behind a static KV cache (session state) with a dynamic sequence length, so the same
file runs prefill (T tokens) and decode (1 token), plus its ``tokenizer.json`` and a
``generation.json`` (cache length, EOS ids, chat template, special tokens) as assets."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from .config import GENERATION_ASSET, TOKENIZER_ASSET, GenerationConfig


def _ids(v: Any) -> List[int]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v]
    return [int(v)]


def generation_config(
    model: Any, tokenizer: Any, max_cache_len: int, chat_template: Optional[str] = None
) -> GenerationConfig:
    """The ``generation.json`` contents for a ``transformers`` model and its tokenizer.

    Args:
        model: the causal LM (its ``generation_config`` and ``config.vocab_size`` are read).
        tokenizer: its ``transformers`` tokenizer (special tokens, chat template).
        max_cache_len: the KV cache length the file is exported with.
        chat_template: a template to use instead of the tokenizer's.

    Returns:
        The settings; EOS ids are those ``model.generate`` stops at (the generation config's,
        else the tokenizer's).

    Raises:
        ValueError: the tokenizer has several named chat templates and none was given.
    """
    gc = getattr(model, "generation_config", None)
    eos = _ids(getattr(gc, "eos_token_id", None)) or _ids(getattr(tokenizer, "eos_token_id", None))
    special: Dict[str, str] = {}
    for k, v in (getattr(tokenizer, "special_tokens_map", None) or {}).items():
        if isinstance(v, str):
            special[k] = v
    template = chat_template if chat_template is not None else getattr(tokenizer, "chat_template", None)
    if template is not None and not isinstance(template, str):
        raise ValueError("only a single (string) chat template is supported; pass chat_template=")
    pad = getattr(tokenizer, "pad_token_id", None)
    bos = getattr(tokenizer, "bos_token_id", None)
    return GenerationConfig(
        max_cache_len=int(max_cache_len),
        vocab_size=int(model.config.vocab_size),
        eos_token_ids=eos,
        bos_token_id=None if bos is None else int(bos),
        pad_token_id=None if pad is None else int(pad),
        chat_template=template,
        special_tokens=special,
    )


def tokenizer_json(tokenizer: Any) -> str:
    """``tokenizer.json`` of a ``transformers`` fast tokenizer or a ``tokenizers.Tokenizer``."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    to_str = getattr(backend, "to_str", None)
    if to_str is None:
        raise TypeError(
            f"{type(tokenizer).__name__} has no tokenizers backend; pass a fast tokenizer "
            "(AutoTokenizer.from_pretrained(..., use_fast=True)) or a tokenizers.Tokenizer"
        )
    return str(to_str())


def export_causal_lm(
    model: Any,
    tokenizer: Any,
    path: "str | os.PathLike[str]",
    *,
    max_cache_len: int = 512,
    weights: str = "f32",
    chat_template: Optional[str] = None,
    model_name: Optional[str] = None,
    verify: bool = False,
    extra_assets: Optional[Dict[str, Any]] = None,
    compression: Any = None,
    quantize: Optional[Dict[str, str]] = None,
    gguf: Any = None,
) -> Any:
    """Export a ``transformers`` causal LM (``AutoModelForCausalLM``, fp32, eval mode) and its
    tokenizer to ``path``; returns the :class:`~wasm_torch.ExportReport`.

    The model is wrapped in ``transformers.integrations.executorch``'s
    ``TorchExportableModuleForDecoderOnlyLM`` with a static cache of ``max_cache_len``
    positions and exported with a dynamic sequence length (1 .. ``max_cache_len - 1``). The
    file's inputs are ``input_ids: i64[1, seq]`` and ``cache_position: i64[seq]``, its output
    ``logits: f32[1, seq, vocab]``; the KV cache is session state. ``tokenizer.json`` and
    ``generation.json`` ride along as assets, so :class:`wasm_torch.llm.TextGenerator` (and
    the JS SDK) can generate from the file alone. ``chat_template`` overrides the tokenizer's.
    ``compression`` is :func:`wasm_torch.export`'s (``False``: stored chunks, quicker to
    write and load), and so are ``quantize`` and ``gguf`` (with ``weights="int4"`` or
    ``"int8"``: the GGUF the model was loaded from, whose Q4_0/Q4_1/Q8_0 blocks are stored as
    they are). A model whose Linear layers were quantized in PyTorch (torchao
    ``IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32),
    scale_dtype=torch.float16)``, the int8 configs, ``torch.ao`` dynamic) keeps their own
    codes, as with :func:`wasm_torch.export`. ``verify`` runs the exported file once against PyTorch on the example inputs (slow for big
    models; the tests compare whole generations instead).

    Returns:
        The :class:`~wasm_torch.ExportReport` of the export.

    Raises:
        ValueError: ``max_cache_len`` below 4, or ``extra_assets`` naming an asset this
            function writes itself.
        ExportError: the model cannot be exported (every problem listed).
    """
    import torch
    from transformers.integrations.executorch import TorchExportableModuleForDecoderOnlyLM

    from .._export import _export
    from .._prequant import dequantize_modules

    if max_cache_len < 4:
        raise ValueError(f"max_cache_len must be at least 4, got {max_cache_len}")
    # Linear layers quantized in PyTorch (torch.ao dynamic, torchao int8 / group-wise int4)
    # become f32 ones holding their exact values before the model is wrapped and exported;
    # their own codes go into the file (a copy of the model when it has any).
    model, imported = dequantize_modules(model.eval())
    model.generation_config.cache_implementation = "static"
    gen = generation_config(model, tokenizer, max_cache_len, chat_template)
    assets: Dict[str, Any] = {
        TOKENIZER_ASSET: tokenizer_json(tokenizer),
        GENERATION_ASSET: json.dumps(gen.to_json(), indent=1, ensure_ascii=False),
    }
    for k, v in (extra_assets or {}).items():
        if k in assets:
            raise ValueError(f"asset {k!r} is written by export_causal_lm itself")
        assets[k] = v
    wrapper = TorchExportableModuleForDecoderOnlyLM(model, batch_size=1, max_cache_len=max_cache_len)
    seq = torch.export.Dim("seq", min=1, max=max_cache_len - 1)
    ids, pos = torch.tensor([[1, 2, 3]]), torch.arange(3)
    ep = wrapper.export(
        input_ids=ids, cache_position=pos, dynamic_shapes={"input_ids": {1: seq}, "cache_position": {0: seq}}
    )
    name = model_name or getattr(model.config, "name_or_path", None) or type(model).__name__
    return _export(
        ep,
        (ids, pos),
        path,
        imported or None,
        frontend="auto",
        dynamic_shapes=None,
        tolerance=None,
        chunk_target=None,
        input_names=[gen.input_ids, gen.cache_position],
        output_names=[gen.logits_output],
        weights=weights,
        verify=verify,
        model_name=str(name),
        assets=assets,
        compression=compression,
        quantize=quantize,
        gguf=gguf,
    )
