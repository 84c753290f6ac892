"""Complex layers: f(x e^{i theta}) == f(x) e^{i theta}, finite at x = 0 forward and backward."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.complex_nn import ComplexLinear, ComplexRMSNorm, ModReLU, unit_rms

torch.set_num_threads(1)


def crandn(seed: int, *shape: int) -> torch.Tensor:
    """Standard complex normal (E|z|^2 = 1), complex64."""
    return torch.randn(*shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(seed))


@st.composite
def complex_inputs(draw: st.DrawFn, features: int) -> torch.Tensor:
    """`[B, features]` complex64 at any scale, with exact zeros: whole input, rows and entries."""
    seed, batch = draw(st.integers(0, 2**16)), draw(st.integers(1, 4))
    scale = draw(st.sampled_from([0.0, 1.0]) | st.floats(-8.0, 3.0).map(lambda e: 10.0**e))
    z = crandn(seed, batch, features) * scale
    keep = torch.rand(batch, features, generator=torch.Generator().manual_seed(seed)) > draw(st.floats(0.0, 0.9))
    keep[: draw(st.integers(0, batch - 1))] = False  # some all-zero rows
    return z * keep


angles = st.floats(-4 * math.pi, 4 * math.pi)


def rotate(z: torch.Tensor, theta: float) -> torch.Tensor:
    return z * torch.polar(torch.tensor(1.0), torch.tensor(theta))


def assert_equivariant(layer: torch.nn.Module, z: torch.Tensor, theta: float) -> None:
    with torch.no_grad():
        out, out_rotated = layer(z), layer(rotate(z, theta))
    assert torch.isfinite(torch.view_as_real(out)).all()
    atol = 1e-5 * (1.0 + out.abs().max().item())
    torch.testing.assert_close(out_rotated, rotate(out, theta), rtol=1e-4, atol=atol)


def assert_finite_grads_at_zero(layer: torch.nn.Module, features: int) -> None:
    z = torch.zeros(3, features, dtype=torch.complex64, requires_grad=True)
    out = layer(z)
    assert (out == 0).all()
    (out * crandn(1, *out.shape).conj()).real.sum().backward()  # a generic linear read-out
    grads = [z.grad] + [p.grad for p in layer.parameters()]
    assert all(g is not None and torch.isfinite(torch.view_as_real(g) if g.is_complex() else g).all() for g in grads)


# --- ComplexLinear ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(z=complex_inputs(12), theta=angles, seed=st.integers(0, 2**16))
def test_linear_is_equivariant(z: torch.Tensor, theta: float, seed: int) -> None:
    torch.manual_seed(seed)
    assert_equivariant(ComplexLinear(12, 7), z, theta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), a=st.complex_numbers(max_magnitude=10), b=st.complex_numbers(max_magnitude=10))
def test_linear_is_the_bias_free_complex_matmul(seed: int, a: complex, b: complex) -> None:
    torch.manual_seed(seed)
    layer = ComplexLinear(5, 4)
    assert layer.weight.dtype == torch.float32 and layer.weight.shape == (4, 5, 2)  # real storage
    w = torch.complex(layer.weight[..., 0], layer.weight[..., 1]).detach().to(torch.complex128)
    x, y = crandn(seed, 2, 3, 5), crandn(seed + 1, 2, 3, 5)  # extra leading dims
    with torch.no_grad():
        out = layer(x)
        assert out.shape == (2, 3, 4)
        torch.testing.assert_close(out.cdouble(), x.cdouble() @ w.T, rtol=1e-5, atol=1e-5)
        # complex-linear (not only real-linear), and 0 -> 0: no bias
        combo = layer(a * x + b * y)
        torch.testing.assert_close(combo, a * out + b * layer(y), rtol=1e-4, atol=1e-4 * (1 + abs(a) + abs(b)))
        assert (layer(torch.zeros(1, 5, dtype=torch.complex64)) == 0).all()


def test_linear_init_keeps_unit_variance() -> None:
    torch.manual_seed(0)
    out = ComplexLinear(256, 256)(crandn(0, 64, 256)).detach()
    assert 0.85 < out.abs().square().mean().item() < 1.15


# --- ComplexRMSNorm --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(z=complex_inputs(10), theta=angles, seed=st.integers(0, 2**16))
def test_rmsnorm_is_equivariant(z: torch.Tensor, theta: float, seed: int) -> None:
    norm = ComplexRMSNorm(10)
    with torch.no_grad():
        norm.gain.copy_(torch.randn(10, generator=torch.Generator().manual_seed(seed)))
    assert_equivariant(norm, z, theta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), log_scale=st.floats(-2.0, 4.0))
def test_rmsnorm_gives_unit_rms_times_a_real_gain(seed: int, log_scale: float) -> None:
    norm = ComplexRMSNorm(10)
    gain = torch.rand(10, generator=torch.Generator().manual_seed(seed)) + 0.5
    z = crandn(seed, 4, 10) * 10.0**log_scale
    with torch.no_grad():
        unit = norm(z)
        power = z.abs().square().mean(dim=-1)
        torch.testing.assert_close(unit.abs().square().mean(dim=-1), power / (power + norm.eps), rtol=1e-5, atol=0)
        torch.testing.assert_close(torch.angle(unit), torch.angle(z))  # a real, positive rescaling
        norm.gain.copy_(gain)
        torch.testing.assert_close(norm(z), unit * gain)


def test_rmsnorm_is_finite_at_zero() -> None:
    assert_finite_grads_at_zero(ComplexRMSNorm(6), 6)


# --- ModReLU ---------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(z=complex_inputs(8), theta=angles, bias=st.floats(-1.0, 1.0))
def test_modrelu_is_equivariant(z: torch.Tensor, theta: float, bias: float) -> None:
    layer = ModReLU(8)
    with torch.no_grad():
        layer.bias.fill_(bias)
    assert_equivariant(layer, z, theta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), bias=st.floats(-1.0, 1.0))
def test_modrelu_matches_its_definition_away_from_zero(seed: int, bias: float) -> None:
    """relu(|z| + b) z / |z|; the eps that keeps z = 0 finite is negligible for |z| >= 0.1."""
    z = crandn(seed, 64)
    z = z / z.abs() * (0.1 + 2 * torch.rand(64, generator=torch.Generator().manual_seed(seed)))
    layer = ModReLU(64)
    with torch.no_grad():
        layer.bias.fill_(bias)
        out = layer(z)
    expected = torch.relu(z.abs() + bias) * z / z.abs()
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    assert (out[z.abs() + bias < -1e-3] == 0).all()


@pytest.mark.parametrize("bias", [-0.1, 0.0, 0.5])
def test_modrelu_is_finite_at_zero_forward_and_backward(bias: float) -> None:
    layer = ModReLU(5)
    with torch.no_grad():
        layer.bias.fill_(bias)
    assert_finite_grads_at_zero(layer, 5)


# --- unit_rms --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), theta=angles, log_scale=st.floats(-2.0, 4.0))
def test_unit_rms(seed: int, theta: float, log_scale: float) -> None:
    z = crandn(seed, 3, 16) * 10.0**log_scale
    for v in (z, z.real):  # mean |v|^2 -> p / (p + eps), i.e. 1 up to eps
        power = v.abs().square().mean(-1)
        torch.testing.assert_close(unit_rms(v).abs().square().mean(-1), power / (power + 1e-6), rtol=1e-5, atol=0)
    torch.testing.assert_close(unit_rms(rotate(z, theta)), rotate(unit_rms(z), theta), rtol=1e-4, atol=1e-5)
    assert (unit_rms(torch.zeros(2, 4)) == 0).all()
