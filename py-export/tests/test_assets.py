"""Assets (format 1.1): ``wasm_torch.export(..., assets=...)`` stores named bytes in the file,
``Session.asset`` / ``asset_names`` read them back; files without assets are unchanged."""

import pytest
import torch
import wasm_torch


class _Affine(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return _Affine().eval(), (torch.randn(2, 3),)


def test_assets_round_trip(tmp_path, model):
    m, x = model
    blob = bytes(range(256))
    path = tmp_path / "m.wtb"
    wasm_torch.export(m, x, path, assets={"tokenizer.json": '{"v": "é"}', "blob.bin": blob})
    data = path.read_bytes()
    assert data[8:12] == b"\x01\x00\x01\x00", "a file with assets is format 1.1"
    s = wasm_torch.load(path)
    assert s.asset_names() == ["tokenizer.json", "blob.bin"]
    assert s.asset("tokenizer.json") == '{"v": "é"}'.encode()
    assert s.asset("blob.bin") == blob
    assert s.asset("missing") is None
    # the model still runs, and loading from bytes sees the same assets
    got = s.run(x[0])[0]
    torch.testing.assert_close(torch.from_numpy(got), m(x[0]).detach(), rtol=1e-6, atol=1e-6)
    assert wasm_torch.load(data).asset("blob.bin") == blob


def test_files_without_assets_are_unchanged(tmp_path, model):
    m, x = model
    a, b = tmp_path / "a.wtb", tmp_path / "b.wtb"
    wasm_torch.export(m, x, a)
    wasm_torch.export(m, x, b, assets={})
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[8:12] == b"\x01\x00\x00\x00", "still format 1.0"
    assert wasm_torch.load(a).asset_names() == []


@pytest.mark.parametrize(
    "assets, exc, match",
    [
        ({"": b"x"}, ValueError, "non-empty"),
        ({1: b"x"}, ValueError, "non-empty"),
        ({"a": 3}, TypeError, "bytes or str"),
        ([("a", b"x")], TypeError, "mapping"),
        ({"big": b"\0" * ((64 << 20) + 1)}, ValueError, "at most"),
    ],
)
def test_bad_assets_are_refused_before_export(tmp_path, model, assets, exc, match):
    m, x = model
    with pytest.raises(exc, match=match):
        wasm_torch.export(m, x, tmp_path / "m.wtb", assets=assets)
    assert not (tmp_path / "m.wtb").exists()
