"""Combs in the pooling projection: `W`'s spectrum along frequency, the pitch-class periods,
and a penalty on the periods that cannot hear some interval.

The backbone keeps every frequency bin and its convolutions are (nearly) equivariant to a
shift along frequency, so a transposition reaches the embedding through the projection `W`
`[embed_dim, channels, n_bins]` of `SpectralPooling` alone. A component of `W` with a period
of 12/h semitones (the h-th harmonic of the pitch-class circle) turns a transposition by s
semitones into a phase of 2*pi*h*s/12: it cannot hear the intervals with h*s a multiple of 12.
Harmonics 1 and 5 (periods 12 and 2.4) hear every interval of 1-11 semitones; harmonics 2, 3,
4 and 6 (periods 6, 4, 3 and 2: BLIND_PERIODS) are deaf to ±6, to ±4 and ±8, to ±3, ±6 and ±9,
and to every even interval. (A period that is no harmonic of the octave can be deaf too: with
84 bins, the DFT bins 12, 24 and 36, periods 7, 3.5 and 7/3 semitones, cannot hear ±7; no
model here has a peak there.) 0.3.0's W peaks at period 4 and 0.3.0 hears ±4 and ±8 least
(docs/results/pooling_spectrum.md); run np1, from a copy without that peak, grew one at
period 3 and heard ±3 least.
"""

from __future__ import annotations

import torch

from phalar_metric.model import PhaLar

PERIODS = (12.0, 6.0, 4.0, 3.0, 2.4, 2.0)  # semitones: the harmonics 1-6 of the pitch-class circle
BLIND_PERIODS = (6.0, 4.0, 3.0, 2.0)  # those deaf to some interval of 1-11 semitones (module docstring)


def projection(model: PhaLar) -> torch.Tensor:
    """The pooling projection `W` as `[embed_dim, channels, n_bins]` (a view: gradients flow)."""
    weight = model.pooling.proj.weight
    return weight.reshape(weight.shape[0], -1, model.config.n_bins)


def frequency_spectrum(model: PhaLar) -> torch.Tensor:
    """`[n_bins // 2 + 1]` shares of `W`'s energy in each bin of its real DFT along frequency
    (each bin counted as often as the full DFT holds it, `fold_counts`, so the shares sum to 1);
    float64."""
    power = torch.fft.rfft(projection(model).double(), dim=-1).abs().square().sum(dim=(0, 1))
    power = power * fold_counts(model.config.n_bins).to(power)
    return power / power.sum()


def fold_counts(n_bins: int) -> torch.Tensor:
    """`[n_bins // 2 + 1]`: how many frequencies of the full DFT of length `n_bins` each real-DFT
    bin holds (1 for bin 0 and, for an even length, the Nyquist bin; 2 for the others)."""
    count = torch.full((n_bins // 2 + 1,), 2.0, dtype=torch.float64)
    count[0] = 1.0
    if n_bins % 2 == 0:
        count[-1] = 1.0
    return count


def period_bin(model: PhaLar, semitones: float) -> int:
    """The DFT bin (along the model's frequency bins) nearest a period of `semitones`;
    ValueError without a CQT front-end or beyond the DFT."""
    if model.config.frontend != "cqt":
        raise ValueError(f"periods in semitones need a CQT front-end, got frontend={model.config.frontend!r}")
    if not semitones > 0:
        raise ValueError(f"a period is a positive number of semitones, got {semitones:g}")
    n = model.config.n_bins
    k = int(round(n / (semitones * model.config.bins_per_octave / 12)))
    if not 1 <= k <= n // 2:
        raise ValueError(f"a period of {semitones:g} semitones is not a DFT bin of {n} frequency bins "
                         f"({model.config.bins_per_octave} per octave)")
    return k


def period_bins(model: PhaLar, semitones: float) -> slice:
    """The DFT bins around a period of `semitones`: `period_bin` and its neighbours (never bin 0)."""
    k = period_bin(model, semitones)
    return slice(max(k - 1, 1), k + 2)


def above_neighbours(spectrum: torch.Tensor, window: slice, counts: torch.Tensor | None = None) -> torch.Tensor:
    """The share of `spectrum` in `window` less what its bins would hold at the median share of
    the bins 2-5 beyond each end, a bin holding `counts` / 2 medians (`fold_counts`: the Nyquist
    bin holds one frequency, the others two; default 2 for every bin): a smooth spectrum gives
    about 0, a peak its excess. A 0-dim tensor, NaN when no bin lies around. The median is a
    reference, not a target: no gradient reaches it (with one, a penalty on the excess raised
    the neighbours instead of lowering the peak: run cp1, docs/training.md)."""
    lo, hi = window.start, window.stop
    around = torch.cat([spectrum[max(lo - 5, 1) : max(lo - 1, 1)], spectrum[hi + 1 : hi + 5]])
    inside = spectrum[window]
    if not len(around):
        return spectrum.new_tensor(float("nan"))
    medians = float(counts[window].sum()) / 2 if counts is not None else len(inside)
    return inside.sum() - medians * around.median().detach()


def period_excess(model: PhaLar, spectrum: torch.Tensor, semitones: float) -> torch.Tensor:
    """`above_neighbours` of the model's `spectrum` (`frequency_spectrum`) around a period of
    `semitones` (`period_bins`), its Nyquist bin counted once."""
    return above_neighbours(spectrum, period_bins(model, semitones), fold_counts(model.config.n_bins))


def comb_penalty(model: PhaLar) -> torch.Tensor:
    """The sum over BLIND_PERIODS of how far each stands above its neighbours in `W`'s
    spectrum, where it does (relu of `period_excess`); differentiable in `W` (float32, 0-dim).
    0.3.0: 0.044 (+0.036 at period 4, +0.007 at 6, +0.001 at 3). ValueError without a CQT
    front-end or with a blind period beyond the DFT."""
    spectrum = frequency_spectrum(model)
    return torch.stack([period_excess(model, spectrum, p) for p in BLIND_PERIODS]).clamp(min=0).sum().float()


def blind_share(model: PhaLar) -> torch.Tensor:
    """The share of `W`'s energy in the bins around the BLIND_PERIODS (`period_bins`), however
    the bins around them stand: a penalty that can empty a period, where `comb_penalty` lowers it
    to its neighbours' level only (run cp2 kept 0.020 at period 4; run np1, the one model that
    heard ±4 in exact re-renders, 0.0003: docs/training.md). Differentiable in `W` (float32,
    0-dim). 0.3.0: 0.16 (bins 13-15, 20-22, 27-29, 41-42; run np1's step 200: 0.10).
    ValueError as `comb_penalty`."""
    spectrum = frequency_spectrum(model)
    return torch.stack([spectrum[period_bins(model, p)].sum() for p in BLIND_PERIODS]).sum().float()
