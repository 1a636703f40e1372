"""Decoder language models: export a Hugging Face causal LM with its tokenizer and generation
settings in one file (:func:`export_causal_lm`), and generate text from such a file
(:class:`TextGenerator`: streaming, greedy or sampled, stop strings and ids, chat templates).

```python
from wasm_torch.llm import export_causal_lm, TextGenerator
export_causal_lm(model, tokenizer, "smollm2.wtb", max_cache_len=512)
gen = TextGenerator.load("smollm2.wtb")
for piece in gen.stream(messages=[{"role": "user", "content": "Hi!"}], max_new_tokens=64):
    print(piece.text, end="", flush=True)
```
"""

from .config import GenerationConfig
from .errors import (
    GenerationError,
    GenerationInterruptedError,
    InvalidGenerationArgumentError,
    MissingAssetError,
    NotALanguageModelError,
    PromptTooLongError,
)
from .export import export_causal_lm, generation_config, tokenizer_json
from .generator import GenerationResult, GenerationStream, Piece, TextGenerator
from .sampling import SamplingOptions, choose, next_token_distribution

__all__ = [
    "export_causal_lm",
    "generation_config",
    "tokenizer_json",
    "TextGenerator",
    "GenerationStream",
    "GenerationResult",
    "GenerationConfig",
    "Piece",
    "SamplingOptions",
    "choose",
    "next_token_distribution",
    "GenerationError",
    "NotALanguageModelError",
    "MissingAssetError",
    "PromptTooLongError",
    "InvalidGenerationArgumentError",
    "GenerationInterruptedError",
]
