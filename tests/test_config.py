"""PhaLarConfig: the documented defaults, validation that names the field, dict/JSON round trips."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phalar_metric.config import FRONTENDS, HEADS, POOLINGS, SIMILARITIES, PhaLarConfig, tiny_config

# The ablation switches of DESIGN.md ("Ablations"), as config overrides.
SWITCHES = [
    {},
    {"pooling": "gap", "head": "real"},
    {"head": "magnitude"},
    {"similarity": "cosine"},
    {"similarity": "psd"},
    {"frontend": "mel"},
]


@st.composite
def valid_configs(draw: st.DrawFn) -> PhaLarConfig:
    """Small valid configs: any ablation switch with varied sizes and numbers."""
    channels = draw(st.lists(st.integers(1, 12), min_size=2, max_size=6))
    window = draw(st.floats(0.5, 10.0))
    return tiny_config(
        **draw(st.sampled_from(SWITCHES)),
        channels=channels,
        strided_stages=draw(st.integers(0, len(channels) - 1)),
        window_seconds=window,
        min_seconds=draw(st.floats(0.1, window)),
        embed_dim=draw(st.integers(1, 32)),
        n_pool_bins=draw(st.integers(1, 8)),
        pool_drop_dc=draw(st.booleans()),
        hidden_dim=draw(st.integers(1, 64)),
        out_dim=draw(st.integers(1, 64)),
        dropout=draw(st.floats(0.0, 0.9)),
        init_scale=draw(st.floats(0.1, 100.0)),
        top_db=draw(st.floats(10.0, 120.0)),
    )


def test_defaults_are_the_documented_model() -> None:
    c = PhaLarConfig()
    assert (c.sample_rate, c.window_samples, c.min_samples) == (16000, 80000, 16000)
    assert (c.frontend, c.n_bins, c.bins_per_octave, c.hop_length) == ("cqt", 84, 12, 256)
    assert c.fmin == pytest.approx(440.0 * 2 ** (-45 / 12), abs=0.01)  # C1 (MIDI 24) = 32.70 Hz
    assert len(c.channels) == 6 and c.strided_stages == 4  # stem + 5 stages = 10 blocks, 16x in time
    assert (c.pooling, c.embed_dim, c.n_pool_bins, c.pool_drop_dc) == ("spectral", 80, 8, True)
    assert (c.head, c.hidden_dim, c.out_dim, c.similarity) == ("complex", 512, 512, "hermitian")
    assert c.embed_dim * c.n_pool_bins == 640  # D*C complex numbers into the head


def test_tiny_config_applies_overrides() -> None:
    c = tiny_config(embed_dim=5, frontend="mel")
    assert (c.embed_dim, c.frontend, c.window_samples) == (5, "mel", 16000)
    assert c.window_samples < PhaLarConfig().window_samples


@settings(max_examples=40, deadline=None)
@given(valid_configs())
def test_dict_and_json_round_trip(config: PhaLarConfig) -> None:
    d = config.to_dict()
    assert isinstance(d["channels"], list)
    assert PhaLarConfig.from_dict(d) == config
    assert PhaLarConfig.from_dict(json.loads(json.dumps(d))) == config
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        config.save(path)
        loaded = PhaLarConfig.load(str(path))
    assert loaded == config
    assert isinstance(loaded.channels, tuple)


def test_unknown_keys_raise_naming_them() -> None:
    d = PhaLarConfig().to_dict() | {"n_bin": 12, "hopsize": 3}
    with pytest.raises(ValueError, match="n_bin"):
        PhaLarConfig.from_dict(d)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(d))
        with pytest.raises(ValueError, match="hopsize"):
            PhaLarConfig.load(path)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"frontend": "stft"}, "frontend"),
        ({"pooling": "max"}, "pooling"),
        ({"head": "quaternion"}, "head"),
        ({"similarity": "dot"}, "similarity"),
        ({"pooling": "gap"}, "pooling"),  # GAP without the real MLP
        ({"head": "real"}, "pooling"),  # the real MLP without GAP
        ({"head": "magnitude", "similarity": "psd"}, "similarity"),
        ({"n_bins": 84, "hop_length": 100}, "hop_length"),  # 7 octaves need hop % 64 == 0
        ({"filter_scale": 0.0}, "filter_scale"),
        ({"n_pool_bins": 0}, "n_pool_bins"),
        ({"embed_dim": -3}, "embed_dim"),
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"out_dim": 0}, "out_dim"),
        ({"n_bins": 0}, "n_bins"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"hop_length": 0}, "hop_length"),
        ({"top_db": 0.0}, "top_db"),
        ({"fmin": math.nan}, "fmin"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"window_seconds": -1.0}, "window_seconds"),
        ({"min_seconds": 2.0}, "min_seconds"),  # longer than the 1 s tiny window
        ({"channels": (8,)}, "channels"),
        ({"channels": (8, 0, 4)}, "channels"),
        ({"strided_stages": 6}, "strided_stages"),  # tiny config has 5 stages
        ({"dropout": 1.0}, "dropout"),
        ({"n_bins": 120, "hop_length": 512}, "n_bins"),  # top CQT bin above 8 kHz
    ],
)
def test_invalid_configs_raise_naming_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}\\b"):
        tiny_config(**overrides)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["frontend", "pooling", "head", "similarity"]), st.text(max_size=8))
def test_any_unknown_choice_raises_naming_the_field_and_value(field: str, value: str) -> None:
    allowed = {"frontend": FRONTENDS, "pooling": POOLINGS, "head": HEADS, "similarity": SIMILARITIES}[field]
    if value in allowed:
        return
    with pytest.raises(ValueError, match=f"`{field}\\b") as info:
        PhaLarConfig(**{field: value})
    assert repr(value) in str(info.value)
