"""Heads and the score: an equivariant complex head, and Re(x^H W y) with its three forms."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.config import PhaLarConfig, tiny_config
from phalar_metric.head import ComplexHead, RealHead, Similarity

torch.set_num_threads(1)
CFG = tiny_config()  # D*C = 8*3 = 24 -> 16 -> 16
N = CFG.out_dim


def crandn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(seed))


def rotate(z: torch.Tensor, theta: float) -> torch.Tensor:
    return z * torch.polar(torch.tensor(1.0), torch.tensor(theta))


def similarity(kind: str, seed: int | None = None, head: str = "complex") -> Similarity:
    """A score module; with `seed`, its weights are replaced by a generic random matrix (far from
    the near-identity init, so that symmetry and invariance are not true by accident)."""
    sim = Similarity(tiny_config(similarity=kind, **({"head": head} if head != "complex" else {})))
    if seed is not None and kind != "cosine":
        with torch.no_grad():
            sim.weight.copy_(torch.randn(sim.weight.shape, generator=torch.Generator().manual_seed(seed)))
    return sim


def embeddings(seed: int, batch: int, real: bool = False) -> torch.Tensor:
    """Unit-RMS rows, like the heads' outputs."""
    z = torch.randn(batch, N, generator=torch.Generator().manual_seed(seed)) if real else crandn(seed, batch, N)
    return z / z.abs().square().mean(-1, keepdim=True).sqrt()


# --- ComplexHead -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    theta=st.floats(-4 * math.pi, 4 * math.pi),
    log_scale=st.floats(-8.0, 3.0),
    zero_rows=st.integers(0, 3),
    zero_fraction=st.floats(0.0, 0.9),
)
def test_complex_head_is_equivariant_for_all_inputs(
    seed: int, theta: float, log_scale: float, zero_rows: int, zero_fraction: float
) -> None:
    torch.manual_seed(seed)
    head = ComplexHead(CFG)
    s = crandn(seed, 3, CFG.embed_dim, CFG.n_pool_bins) * 10.0**log_scale  # S `[B, D, C]`
    s = s * (torch.rand(s.shape, generator=torch.Generator().manual_seed(seed)) >= zero_fraction)
    s[:zero_rows] = 0  # includes x = 0 for the whole batch
    with torch.no_grad():
        out, out_rotated = head(s), head(rotate(s, theta))
    assert out.shape == (3, N) and out.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(out)).all() and torch.isfinite(torch.view_as_real(out_rotated)).all()
    torch.testing.assert_close(out_rotated, rotate(out, theta), rtol=1e-4, atol=1e-4)
    assert (out[:zero_rows] == 0).all()


def test_complex_head_output_is_unit_rms_and_per_sample() -> None:
    torch.manual_seed(0)
    head = ComplexHead(CFG)
    s = crandn(0, 4, CFG.embed_dim, CFG.n_pool_bins)
    with torch.no_grad():
        out = head(s)
        torch.testing.assert_close(out.abs().square().mean(-1), torch.ones(4), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(head(s[2:3]), out[2:3], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(head(s * 1e3), out, rtol=1e-4, atol=1e-4)  # the RMSNorm removes scale


def test_complex_head_has_finite_gradients_at_zero_input() -> None:
    torch.manual_seed(0)
    head = ComplexHead(CFG)
    s = torch.zeros(2, CFG.embed_dim, CFG.n_pool_bins, dtype=torch.complex64, requires_grad=True)
    out = head(s)
    assert (out == 0).all()
    (out * crandn(1, *out.shape).conj()).real.sum().backward()
    assert torch.isfinite(torch.view_as_real(s.grad)).all()
    for name, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("kind", ["magnitude", "gap"])
def test_real_heads(kind: str) -> None:
    cfg = tiny_config(head="magnitude") if kind == "magnitude" else tiny_config(pooling="gap", head="real")
    torch.manual_seed(0)
    head = RealHead(cfg)
    x = crandn(0, 3, cfg.embed_dim, cfg.n_pool_bins) if kind == "magnitude" else torch.randn(3, cfg.embed_dim)
    with torch.no_grad():
        out = head(x)
        assert out.shape == (3, cfg.out_dim) and out.dtype == torch.float32
        torch.testing.assert_close(out.square().mean(-1), torch.ones(3), rtol=1e-4, atol=1e-4)
        if kind == "magnitude":  # sees |S| only: blind to every phase, hence to time shifts
            phases = torch.polar(torch.ones(x.shape), torch.rand(x.shape) * 2 * math.pi)
            torch.testing.assert_close(head(x * phases), out, rtol=1e-5, atol=1e-5)


# --- Similarity ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["hermitian", "psd", "cosine"]),
    symmetric=st.booleans(),
    seed=st.integers(0, 2**16),
    theta=st.floats(-4 * math.pi, 4 * math.pi),
)
def test_score_is_invariant_to_a_joint_rotation(kind: str, symmetric: bool, seed: int, theta: float) -> None:
    sim = similarity(kind, seed)
    x, y = embeddings(seed, 3), embeddings(seed + 1, 4)
    with torch.no_grad():
        s = sim(x, y, symmetric=symmetric)
        rotated = sim(rotate(x, theta), rotate(y, theta), symmetric=symmetric)
    torch.testing.assert_close(rotated, s, rtol=1e-4, atol=1e-3)
    assert s.shape == (3, 4) and s.dtype == torch.float32


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["hermitian", "psd", "cosine", "real"]),
    seed=st.integers(0, 2**16),
    bx=st.integers(1, 4),
    by=st.integers(1, 4),
)
def test_inference_score_is_symmetric(kind: str, seed: int, bx: int, by: int) -> None:
    """score(x, y) == score(y, x).T, and it is the mean of the two raw scores."""
    real = kind == "real"
    sim = similarity("hermitian" if real else kind, seed, head="magnitude" if real else "complex")
    x, y = embeddings(seed, bx, real), embeddings(seed + 1, by, real)
    with torch.no_grad():
        s = sim(x, y)
        torch.testing.assert_close(s, sim(y, x).T, rtol=1e-5, atol=1e-4)
        raw = (sim(x, y, symmetric=False) + sim(y, x, symmetric=False).T) / 2
        torch.testing.assert_close(s, raw, rtol=1e-5, atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(["hermitian", "psd"]), seed=st.integers(0, 2**16), symmetric=st.booleans())
def test_score_is_re_x_h_w_y(kind: str, seed: int, symmetric: bool) -> None:
    """Against an independent complex128 einsum of the definition."""
    sim = similarity(kind, seed)
    a = torch.view_as_complex(sim.weight.detach()).to(torch.complex128)
    w = a.conj().T @ a if kind == "psd" else a
    if symmetric:
        w = (w + w.conj().T) / 2
    x, y = embeddings(seed, 3), embeddings(seed + 1, 2)
    expected = torch.einsum("bi,ij,cj->bc", x.to(torch.complex128).conj(), w, y.to(torch.complex128)).real
    with torch.no_grad():
        torch.testing.assert_close(sim(x, y, symmetric=symmetric).double(), expected, rtol=1e-4, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_psd_matrix_is_hermitian_psd(seed: int) -> None:
    sim = similarity("psd", seed)
    with torch.no_grad():
        w = sim.matrix().to(torch.complex128)
        torch.testing.assert_close(w, w.conj().T, rtol=1e-6, atol=1e-6)
        eigenvalues = torch.linalg.eigvalsh(w)
        assert eigenvalues.min() >= -1e-6 * eigenvalues.abs().max()
        x = embeddings(seed, 8)
        assert (torch.diagonal(sim(x, x)) >= -1e-4).all()  # a clip never scores below zero with itself


def test_unconstrained_w_can_be_indefinite() -> None:
    """Negative scores (anti-phase) are reachable: W_h has eigenvalues of both signs."""
    sim = similarity("hermitian")
    w = torch.diag(torch.linspace(-1.0, 1.0, N)).to(torch.complex64) + 0.3j * crandn(0, N, N).real
    with torch.no_grad():
        sim.weight.copy_(torch.view_as_real(w))
        torch.testing.assert_close(sim.matrix(symmetric=False), w)  # stored as given: not Hermitian
        assert not torch.allclose(w, w.conj().T)
        w_h = sim.matrix()
        torch.testing.assert_close(w_h, w_h.conj().T, rtol=0, atol=0)  # the symmetric form is Hermitian
        eigenvalues, vectors = torch.linalg.eigh(w_h)
        assert eigenvalues.min() < -0.1 and eigenvalues.max() > 0.1
        x = vectors[:, :1].T * math.sqrt(N)  # unit RMS, along the most negative direction
        score = sim(x, x)
        assert score.item() < 0
        torch.testing.assert_close(score, eigenvalues[:1, None] * N, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(sim(x, -x), -score)  # anti-phase flips the sign


@pytest.mark.parametrize("kind", ["hermitian", "psd", "cosine"])
@pytest.mark.parametrize("config", [CFG, PhaLarConfig()], ids=["tiny", "default"])
def test_initial_self_score_is_init_scale(kind: str, config: PhaLarConfig) -> None:
    torch.manual_seed(0)
    sim = Similarity(PhaLarConfig(**(config.to_dict() | {"similarity": kind})))
    x = crandn(0, 4, config.out_dim)
    x = x / x.abs().square().mean(-1, keepdim=True).sqrt()
    with torch.no_grad():
        self_scores = torch.diagonal(sim(x, x))
    torch.testing.assert_close(self_scores, torch.full((4,), config.init_scale), rtol=0.05, atol=0)


@pytest.mark.parametrize("head", ["complex", "magnitude"])
def test_scores_are_float32_under_bf16_autocast(head: str) -> None:
    """Mixed-precision training: the score is computed in full precision, as outside autocast."""
    sim = similarity("hermitian", seed=0, head=head)
    n = sim.weight.shape[0]
    x, y = (crandn(s, 4, n) if head == "complex" else torch.randn(4, n, generator=torch.Generator().manual_seed(s))
            for s in (1, 2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = sim(x.to(torch.bfloat16) if head != "complex" else x, y)
    assert mixed.dtype == torch.float32
    expected = sim(x.to(torch.bfloat16).float() if head != "complex" else x, y)
    torch.testing.assert_close(mixed, expected)
