"""The token-choice transforms of ``wasm_torch.llm.sampling`` against a deliberately plain
reference (Python loops over sorted lists, the definitions of Hugging Face's processors), on
given logits; the seeded draw follows the distribution and is reproducible."""

import math

import numpy as np
import pytest
from wasm_torch.llm import InvalidGenerationArgumentError, SamplingOptions, choose, next_token_distribution


def reference(logits, history, o):
    """Repetition penalty, temperature, top-k (ties with the k-th kept), softmax, top-p (the
    smallest most-probable set reaching top_p), renormalised — one element at a time."""
    x = [float(v) for v in logits]
    for t in set(history):
        x[t] = x[t] / o.repetition_penalty if x[t] > 0 else x[t] * o.repetition_penalty
    if not o.do_sample:
        best = max(range(len(x)), key=lambda i: (x[i], -i))
        return [1.0 if i == best else 0.0 for i in range(len(x))]
    x = [v / o.temperature for v in x]
    if 0 < o.top_k < len(x):
        kth = sorted(x, reverse=True)[o.top_k - 1]
        x = [v if v >= kth else -math.inf for v in x]
    m = max(x)
    e = [math.exp(v - m) for v in x]
    s = sum(e)
    p = [v / s for v in e]
    if o.top_p < 1.0:
        order = sorted(range(len(p)), key=lambda i: (-p[i], i))
        keep, total = [], 0.0
        for i in order:
            keep.append(i)
            total += p[i]
            if total >= o.top_p:
                break
        p = [p[i] if i in keep else 0.0 for i in range(len(p))]
        s = sum(p)
        p = [v / s for v in p]
    return p


CASES = [
    SamplingOptions(),
    SamplingOptions(repetition_penalty=1.3),
    SamplingOptions(do_sample=True),
    SamplingOptions(do_sample=True, temperature=0.7),
    SamplingOptions(do_sample=True, temperature=1.5, top_k=5),
    SamplingOptions(do_sample=True, top_p=0.9),
    SamplingOptions(do_sample=True, top_p=0.3, temperature=0.8),
    SamplingOptions(do_sample=True, top_k=10, top_p=0.8, temperature=0.6, repetition_penalty=1.2),
    SamplingOptions(do_sample=True, top_k=1),
    SamplingOptions(do_sample=True, top_p=1e-9),
]


@pytest.mark.parametrize("opts", CASES, ids=repr)
def test_distribution_matches_the_plain_reference(opts):
    rng = np.random.default_rng(7)
    for trial in range(20):
        logits = (rng.standard_normal(64) * 3).astype(np.float32)
        if trial % 4 == 0:
            logits[[3, 9, 20]] = logits[5]  # ties
        history = list(rng.integers(0, 64, size=int(rng.integers(0, 12))))
        got = next_token_distribution(logits, history, opts)
        want = np.array(reference(logits, history, opts))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        assert abs(got.sum() - 1) < 1e-12


def test_greedy_choice_is_the_arg_max_after_the_penalty():
    logits = np.array([1.0, 3.0, 2.5, -1.0], dtype=np.float32)
    assert choose(logits, [], SamplingOptions(), None) == 1
    # 3.0 / 1.5 = 2.0 < 2.5: the repeated token loses
    assert choose(logits, [1], SamplingOptions(repetition_penalty=1.5), None) == 2
    # a negative logit is multiplied, so a penalty never raises it
    p = next_token_distribution(np.array([-1.0, -1.1]), [0], SamplingOptions(repetition_penalty=2.0))
    assert p.tolist() == [0.0, 1.0]


def test_seeded_draws_follow_the_distribution_and_repeat():
    logits = np.log(np.array([0.4, 0.3, 0.2, 0.06, 0.04]))
    opts = SamplingOptions(do_sample=True, top_k=3)
    p = next_token_distribution(logits, [], opts)
    rng = np.random.default_rng(123)
    n = 20000
    counts = np.bincount([choose(logits, [], opts, rng) for _ in range(n)], minlength=5)
    assert counts[3] == counts[4] == 0, "top-k removed tokens 3 and 4"
    # chi-square against p over the tokens with mass (df <= 4; 99.9% quantile ~ 18.5)
    mask = p > 0
    chi2 = float((((counts - n * p) ** 2)[mask] / (n * p[mask])).sum())
    assert chi2 < 18.5, (counts, p)
    a = [choose(logits, [], opts, np.random.default_rng(5)) for _ in range(3)]
    r1, r2 = np.random.default_rng(99), np.random.default_rng(99)
    s1 = [choose(logits, [], opts, r1) for _ in range(50)]
    s2 = [choose(logits, [], opts, r2) for _ in range(50)]
    assert s1 == s2 and len(set(a)) == 1
    assert len(set(s1)) > 1


@pytest.mark.parametrize(
    "kw",
    [
        {"temperature": 0.0},
        {"temperature": float("nan")},
        {"top_k": -1},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"repetition_penalty": 0.0},
    ],
)
def test_out_of_range_options_are_typed_errors(kw):
    with pytest.raises(InvalidGenerationArgumentError) as e:
        SamplingOptions(do_sample=True, **kw).check()
    assert e.value.code == "invalid_argument"
