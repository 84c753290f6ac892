"""The harmony branch: time-averaged features appended to the embedding, scored by a real
block V that starts at 0 (the score of a model without the branch)."""

from __future__ import annotations

import pytest
import torch

from phalar_metric.config import PhaLarConfig, tiny_config
from phalar_metric.harmony import HarmonyBranch
from phalar_metric.hub import load_pretrained, save_pretrained
from phalar_metric.model import PhaLar

torch.set_num_threads(1)
E = 6


def build(harmony_dim: int, seed: int = 0) -> PhaLar:
    torch.manual_seed(seed)
    return PhaLar(tiny_config(harmony_dim=harmony_dim)).eval()


def clips(seed: int, n: int) -> torch.Tensor:
    return torch.randn(n, 16000, generator=torch.Generator().manual_seed(seed)) * 0.1


def with_random_block(model: PhaLar, seed: int = 3) -> PhaLar:
    with torch.no_grad():
        model.similarity.harmony_weight.copy_(torch.randn(E, E, generator=torch.Generator().manual_seed(seed)))
    return model


def test_with_v_zero_the_scores_are_those_of_the_model_without_the_branch() -> None:
    plain, branched = build(0), build(E)
    missing, unexpected = branched.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["harmony.proj.weight", "similarity.harmony_weight"] and not unexpected
    x, y = clips(0, 3), clips(1, 4)
    with torch.no_grad():
        ex, ey = branched.embed(x), branched.embed(y)
        assert ex.shape == (3, 16 + E) and ex.dtype == torch.complex64
        assert torch.equal(ex[:, 16:].imag, torch.zeros(3, E))  # real features
        assert torch.allclose(branched.score(ex, ey), plain(x, y), atol=1e-5)
        with_random_block(branched)
        assert not torch.allclose(branched.score(ex, ey), plain(x, y), atol=1e-2)  # the block is used


def test_the_score_adds_the_symmetrised_block_on_the_real_features() -> None:
    model = with_random_block(build(E))
    x, y = clips(2, 3), clips(3, 2)
    with torch.no_grad():
        ex, ey = model.embed(x), model.embed(y)
        w = torch.view_as_complex(model.similarity.weight)
        w_h = (w + w.conj().T) / 2
        v = model.similarity.harmony_weight
        by_hand = (ex[:, :16].conj() @ w_h @ ey[:, :16].T).real + ex[:, 16:].real @ ((v + v.T) / 2) @ ey[:, 16:].real.T
        assert torch.allclose(model.score(ex, ey), by_hand, atol=1e-4)
        assert torch.allclose(model.score(ey, ex), by_hand.T, atol=1e-4)  # symmetric in its arguments
        rot = torch.polar(torch.tensor(1.0), torch.tensor(0.7))
        assert torch.allclose(model.score(ex * rot, ey * rot), by_hand, atol=1e-4)  # joint rotation
        assert torch.allclose(model.similarity.paired(ex[:2], ey), by_hand.diagonal(), atol=1e-4)
        harmony = ex[:, 16:].real @ ((v + v.T) / 2) @ ey[:, 16:].real.T
        assert torch.allclose(model.similarity.harmony(ex, ey), harmony, atol=1e-4)  # the block's share alone
        assert not torch.allclose(harmony, by_hand, atol=1e-2)


def test_the_branch_ignores_when_things_sound_and_keeps_unit_rms() -> None:
    branch = HarmonyBranch(tiny_config(harmony_dim=E))
    feats = torch.randn(2, 8, 36, 10, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        u = branch(feats)
        assert torch.allclose(branch(feats.roll(3, dims=-1)), u, atol=1e-5)
        assert torch.allclose(u.square().mean(-1), torch.ones(2), atol=1e-4)
        assert torch.isfinite(branch(torch.zeros(1, 8, 36, 10))).all()  # silence: finite (zeros)


def test_weights_with_the_branch_round_trip_through_a_folder(tmp_path) -> None:
    model = with_random_block(build(E))
    folder = save_pretrained(model, tmp_path / "w")
    loaded = load_pretrained(folder).eval()
    assert loaded.config.harmony_dim == E
    x = clips(5, 2)
    with torch.no_grad():
        assert torch.equal(loaded(x, x), model(x, x))


@pytest.mark.parametrize("bad", [{"harmony_dim": -1}, {"harmony_dim": 4, "similarity": "cosine"},
                                 {"harmony_dim": 4, "pooling": "gap", "head": "real"}])
def test_bad_harmony_configs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="harmony_dim"):
        PhaLarConfig(**{**tiny_config().to_dict(), **bad})
