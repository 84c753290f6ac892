"""The trainer's guarantees on a tiny model and a tiny render cache: exact resume and DDP."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tiny_data import TINY_MODEL
from phalar_metric.config import PhaLarConfig
from phalar_metric.hub import load_pretrained
from phalar_metric.model import PhaLar
from training import train
from training.config_args import parse_overrides
from training.loss import info_nce, pairwise_margin
from training.validation import interval_weights_from, is_interval_metric

REPO = Path(__file__).resolve().parents[2]
COMPLEX_PARAMS = ("head.layers.0.weight", "head.layers.3.weight", "similarity.weight")  # stored [..., 2]


def train_args(data: Path, out: Path, max_steps: int, **extra: object) -> list[str]:
    """Arguments of a tiny run: 1 s windows, batches of 6 pairs, validation and a checkpoint every 2 steps."""
    args = {"data": str(data), "out_dir": str(out), "max_steps": max_steps, "batch_size": 6, "group_size": 3,
            "hard_fraction": 0.5, "warmup_steps": 2, "eval_every": 2, "eval_pairs": 100, "eval_groups": 1,
            "threads": 1, "log_every": 1, "model": TINY_MODEL, **extra}
    return [f"--{k}={v}" if isinstance(v, str) else f"--{k}={v!r}" for k, v in args.items()]


class Killed(Exception):
    """Stands in for a kill right after a checkpoint."""


def die_after_first_checkpoint(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make `train._save_checkpoint` raise `Killed` once it has written; returns the real one."""
    save = train._save_checkpoint

    def save_then_die(path: Path, *args: object) -> None:
        save(path, *args)
        raise Killed

    monkeypatch.setattr(train, "_save_checkpoint", save_then_die)
    return save


@pytest.mark.parametrize("extra", [{}, {"pitch_interval_adapt": "val"},
                                   {"model": {**TINY_MODEL, "harmony_dim": 4}, "harmony_nce_weight": 0.5},
                                   {"offset_pairs": 2, "offset_rank_weight": 1.0}])
def test_resume_is_exact(rendered_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict) -> None:
    train.main(train_args(rendered_root, tmp_path / "straight", 4, **extra))

    save = die_after_first_checkpoint(monkeypatch)
    with pytest.raises(Killed):
        train.main(train_args(rendered_root, tmp_path / "resumed", 4, **extra))
    assert torch.load(tmp_path / "resumed" / "ckpt.pt", weights_only=False)["step"] == 2
    monkeypatch.setattr(train, "_save_checkpoint", save)
    train.main(train_args(rendered_root, tmp_path / "resumed", 4, **extra))

    a, b = (torch.load(tmp_path / run / "ckpt.pt", weights_only=False) for run in ("straight", "resumed"))
    assert a["step"] == b["step"] == 4
    for name, weight in a["model"].items():
        assert torch.equal(weight, b["model"][name]), name
    for state_a, state_b in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert a["history"][-1] == {**b["history"][-1], "time": a["history"][-1]["time"]}


def test_checkpoints_between_evaluations_resume_exactly(rendered_root: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"ckpt_every": 1, "eval_every": 10}
    train.main(train_args(rendered_root, tmp_path / "straight", 2, **extra))
    save = die_after_first_checkpoint(monkeypatch)
    with pytest.raises(Killed):
        train.main(train_args(rendered_root, tmp_path / "resumed", 2, **extra))
    assert torch.load(tmp_path / "resumed" / "ckpt.pt", weights_only=False)["step"] == 1
    assert not (tmp_path / "resumed" / "val.csv").exists()  # step 1 was saved without an evaluation
    monkeypatch.setattr(train, "_save_checkpoint", save)
    train.main(train_args(rendered_root, tmp_path / "resumed", 2, **extra))
    a, b = (torch.load(tmp_path / run / "ckpt.pt", weights_only=False) for run in ("straight", "resumed"))
    assert all(torch.equal(w, b["model"][name]) for name, w in a["model"].items())


@pytest.mark.parametrize("model", [{}, {"pooling": "gap", "head": "real"}, {"similarity": "cosine"},
                                   {"harmony_dim": 4}])
def test_param_groups_cover_every_parameter_once_and_scale_only_w(model: dict) -> None:
    """W at `score_lr_scale`; a harmony branch's projection and block in a fourth group at
    `harmony_lr_scale`, without weight decay."""
    net = PhaLar(PhaLarConfig.from_dict({**TINY_MODEL, **model}))
    cfg = train.TrainConfig(score_lr_scale=0.02, harmony_lr_scale=7.0)
    groups = train.param_groups(net, cfg)
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in net.parameters())
    scaled = [p for g in groups if g["lr_scale"] == 0.02 for p in g["params"]]
    expected = [] if model.get("similarity") == "cosine" else [net.similarity.weight]
    assert [id(p) for p in scaled] == [id(p) for p in expected]
    harmony = [g for g in groups if g["lr_scale"] == 7.0]
    assert len(groups) == 3 + len(harmony)
    if model.get("harmony_dim"):
        assert [id(p) for p in harmony[0]["params"]] == [id(net.harmony.proj.weight),
                                                        id(net.similarity.harmony_weight)]
        assert harmony[0]["weight_decay"] == 0.0


def test_bf16_autocast_trains_and_logs_a_finite_loss(rendered_root: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dtypes = []
    forward = PhaLar.embed_spectrogram

    def spy(self: PhaLar, spec: torch.Tensor) -> torch.Tensor:
        if self.training:
            dtypes.append((spec.dtype, self.backbone(spec).dtype))
        return forward(self, spec)

    monkeypatch.setattr(PhaLar, "embed_spectrogram", spy)
    train.main(train_args(rendered_root, tmp_path / "run", 2, amp="bf16"))
    assert dtypes and set(dtypes) == {(torch.float32, torch.bfloat16)}  # front-end fp32, backbone bf16
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and all(math.isfinite(float(r.split(",")[1])) for r in rows)


def test_score_lr_scale_and_decay_reach_the_optimiser_and_survive_a_resume(rendered_root: Path,
                                                                           tmp_path: Path) -> None:
    args = train_args(rendered_root, tmp_path / "run", 2, score_lr_scale=0.25, score_weight_decay=0.5)
    train.main(args)
    cfg = train.TrainConfig(max_steps=2, warmup_steps=2)  # the schedule of train_args
    groups = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["optimizer"]["param_groups"]
    assert groups[2]["lr"] == pytest.approx(train.lr_at(1, cfg) * 0.25)
    assert (groups[0]["weight_decay"], groups[2]["weight_decay"]) == (0.01, 0.5)
    # resumed with other group settings: the command line wins over the checkpoint
    train.main(train_args(rendered_root, tmp_path / "run", 4, score_lr_scale=0.5, score_weight_decay=0.0))
    groups = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["optimizer"]["param_groups"]
    assert groups[2]["lr_scale"] == 0.5 and groups[2]["weight_decay"] == 0.0


def test_a_checkpoint_of_another_optimiser_grouping_is_refused(rendered_root: Path, tmp_path: Path) -> None:
    train.main(train_args(rendered_root, tmp_path / "run", 2))
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    ckpt["optimizer"]["param_groups"] = ckpt["optimizer"]["param_groups"][:2]  # as the session-1 trainer wrote
    torch.save(ckpt, tmp_path / "run" / "ckpt.pt")
    with pytest.raises(ValueError, match="2 optimiser parameter groups, this trainer uses 3"):
        train.main(train_args(rendered_root, tmp_path / "run", 4))


def test_a_continued_run_validates_its_start_and_keeps_it_unless_beaten(rendered_root: Path,
                                                                      tmp_path: Path) -> None:
    train.main(train_args(rendered_root, tmp_path / "first", 2))
    start = tmp_path / "first" / "best"
    train.main(train_args(rendered_root, tmp_path / "next", 2, init_from=str(start), lr=0.0))
    history = torch.load(tmp_path / "next" / "ckpt.pt", weights_only=False)["history"]
    assert [h["step"] for h in history] == [0, 2]
    assert history[0]["val/acc@64"] == history[1]["val/acc@64"]  # lr 0: the same weights
    assert json.loads((tmp_path / "next" / "best" / "README.md").read_text())["step"] == 0  # a tie keeps the start
    assert (tmp_path / "next" / "val.csv").read_text().splitlines()[1].startswith("0,")


def test_unknown_amp_is_a_value_error(rendered_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="amp"):
        train.main(train_args(rendered_root, tmp_path / "run", 1, amp="fp8"))


def test_an_offset_rank_weight_without_moved_targets_is_a_value_error(rendered_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="offset_pairs"):
        train.main(train_args(rendered_root, tmp_path / "run", 1, offset_rank_weight=1.0))


def test_unknown_model_key_is_a_value_error(rendered_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bogus"):
        train.main(train_args(rendered_root, tmp_path / "run", 1, model={**TINY_MODEL, "bogus": 1}))


def tiny_model() -> PhaLar:
    torch.manual_seed(0)
    return PhaLar(PhaLarConfig(**{**TINY_MODEL, "dropout": 0.0}))


def rank_batch(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each rank's own (context, target) batch `[4, 16000]`."""
    g = torch.Generator().manual_seed(100 + rank)
    return torch.randn(4, 16000, generator=g) * 0.1, torch.randn(4, 16000, generator=g) * 0.1


def ddp_worker(rank: int, world: int, init_file: str, out: str) -> None:
    """One DDP process: a backward pass on its own batch; saves the (all-reduced) gradients."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    model = tiny_model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)  # keep a reference: its reducer does the all-reduce
    info_nce(ddp(*rank_batch(rank))).backward()
    torch.save({n: p.grad for n, p in model.named_parameters()}, Path(out) / f"grads{rank}.pt")
    dist.destroy_process_group()


def test_ddp_averages_the_gradients_of_complex_parameters(tmp_path: Path) -> None:
    mp.spawn(ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    single = []
    for rank in range(2):
        model = tiny_model()
        info_nce(model(*rank_batch(rank))).backward()
        single.append(dict(model.named_parameters()))
    for rank in range(2):
        grads = torch.load(tmp_path / f"grads{rank}.pt")
        for name in COMPLEX_PARAMS:
            assert grads[name].shape[-1] == 2
            expected = (single[0][name].grad + single[1][name].grad) / 2
            torch.testing.assert_close(grads[name], expected, rtol=1e-4, atol=1e-5)


def test_torchrun_two_processes_smoke(rendered_root: Path, tmp_path: Path) -> None:
    """Two processes train past a validation; the adapted intervals, computed on rank 0 only,
    reach both (a broadcast on one rank alone would hang until the timeout)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "training.train", *train_args(rendered_root, tmp_path / "run", 4, pitch_interval_adapt="val")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stdout + done.stderr
    assert re.search(r"intervals 1-11 drawn by uniform\n.*intervals 1-11 drawn by \d\.\d\d, ", done.stdout, re.S)
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    assert ckpt["step"] == 4
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


def test_a_log_row_with_other_columns_is_an_error(tmp_path: Path) -> None:
    """val.csv rows are read back by column name (export picks `best` from them): a row whose
    columns differ from the file's header must not be appended under it."""
    path = tmp_path / "val.csv"
    train._append_csv(path, {"step": 0, "val/acc@64": 0.5})
    train._append_csv(path, {"step": 1, "val/acc@64": 0.6})
    with pytest.raises(ValueError, match="has the columns"):
        train._append_csv(path, {"step": 2, "val/acc@64": 0.7, "val/pitch": 0.5})
    assert path.read_text().splitlines() == ["step,val/acc@64", "0,0.5", "1,0.6"]


def test_pitch_pair_weight_adds_the_margin_of_each_transposed_target_to_its_own_context() -> None:
    """The pairwise term reads the first P extra columns (the transposed targets, in `pitch_idx`
    order) against the true-pair score of the row they were made from."""
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))

    class Fixed(torch.nn.Module):
        def forward(self, context, target, negatives):  # noqa: ANN001, ANN202 (a stand-in for ContrastiveStep)
            return scores, extra

    batch = types.SimpleNamespace(context=np.zeros((4, 8), np.float32), target=np.zeros((4, 8), np.float32))
    negatives = {"pitch_idx": np.array([2, 0])}
    cfg = train.TrainConfig(label_smoothing=0.0, amp="none")
    plain = train.pair_loss(Fixed(), batch, negatives, cfg, torch.device("cpu"))
    assert torch.isclose(plain, info_nce(scores, 0.0, extra))
    weighted = train.pair_loss(Fixed(), batch, negatives, dataclasses.replace(cfg, pitch_pair_weight=0.5),
                               torch.device("cpu"))
    margin = pairwise_margin(torch.stack([scores[2, 2], scores[0, 0]]), torch.stack([extra[2, 0], extra[0, 1]]))
    assert torch.isclose(weighted, plain + 0.5 * margin)


def test_degenerate_pair_weight_adds_the_margin_of_every_degenerate_clip_against_every_true_pair() -> None:
    """The degenerate term reads the M columns after the P transposed and Q stretched ones and a
    score 0 (gated silence), each against every row's true-pair score, and leaves the
    transposed, stretched and re-rendered columns alone."""
    scores = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(3, 7, generator=torch.Generator().manual_seed(1))  # P=2, Q=1, M=3, R=1

    class Fixed(torch.nn.Module):
        def forward(self, context, target, negatives):  # noqa: ANN001, ANN202 (a stand-in for ContrastiveStep)
            return scores, extra

    batch = types.SimpleNamespace(context=np.zeros((3, 8), np.float32), target=np.zeros((3, 8), np.float32))
    negatives = {"pitch_idx": np.array([1, 2]), "tempo_idx": np.array([0]),
                 "degenerate": np.zeros((3, 8), np.float32), "rerendered_idx": np.array([1])}
    cfg = train.TrainConfig(label_smoothing=0.0, amp="none")
    plain = train.pair_loss(Fixed(), batch, negatives, cfg, torch.device("cpu"))
    weighted = train.pair_loss(Fixed(), batch, negatives, dataclasses.replace(cfg, degenerate_pair_weight=0.4),
                               torch.device("cpu"))
    degenerate = lambda i: [float(extra[i, 3 + m]) for m in range(3)] + [0.0]  # + gated silence
    by_hand = sum(math.log1p(math.exp(d - scores[i, i])) for i in range(3) for d in degenerate(i)) / 12
    assert torch.isclose(weighted, plain + 0.4 * by_hand)


def test_offset_rank_weight_ranks_each_moved_target_above_other_songs_targets() -> None:
    """The offset term reads the last O extra columns (the moved targets, in `offset_idx` order)
    against the scores of the same context with every other song's target; targets of the
    moved one's own song are left out, and so is a moved target that went (nearly) silent. The
    re-rendered columns before them keep their place."""
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))  # R = 2 re-rendered, O = 3 moved

    class Fixed(torch.nn.Module):
        def forward(self, context, target, negatives):  # noqa: ANN001, ANN202 (a stand-in for ContrastiveStep)
            return scores, extra

    batch = types.SimpleNamespace(context=np.zeros((4, 8), np.float32), target=np.ones((4, 8), np.float32),
                                  song=np.array(["a", "a", "b", "c"]))
    moved = np.ones((3, 8), np.float32)
    moved[2] = 0.2  # the third moved target kept 0.2 of its RMS: left out (O = 3 here)
    negatives = {"pitch_idx": np.zeros(0, int), "rerendered_idx": np.array([3, 1]),
                 "offset_idx": np.array([1, 2, 0]), "offset": moved}
    cfg = train.TrainConfig(label_smoothing=0.0, amp="none")
    plain = train.pair_loss(Fixed(), batch, negatives, cfg, torch.device("cpu"))
    assert torch.isclose(plain, info_nce(scores, 0.0, extra))
    weighted = train.pair_loss(Fixed(), batch, negatives, dataclasses.replace(cfg, offset_rank_weight=2.0),
                               torch.device("cpu"))
    pairs = [(1, 2, 2), (1, 2, 3), (2, 3, 0), (2, 3, 1), (2, 3, 3)]  # (row, its moved column, other song's target)
    audible = train.pair_loss(Fixed(), batch, {**negatives, "offset": np.ones((3, 8), np.float32)},
                              dataclasses.replace(cfg, offset_rank_weight=2.0), torch.device("cpu"))
    pairs_audible = [*pairs, (0, 4, 2), (0, 4, 3)]
    by_hand_audible = sum(math.log1p(math.exp(scores[i, j] - extra[i, c])) for i, c, j in pairs_audible) / 7
    assert torch.isclose(audible, plain + 2.0 * by_hand_audible)
    by_hand = sum(math.log1p(math.exp(scores[i, j] - extra[i, c])) for i, c, j in pairs) / len(pairs)
    assert torch.isclose(weighted, plain + 2.0 * by_hand)
    pitched = train.pair_loss(Fixed(), batch, negatives, dataclasses.replace(cfg, pitch_pair_weight=1.0),
                              torch.device("cpu"))  # the re-rendered columns are 0 and 1, not the last two
    margin = pairwise_margin(torch.stack([scores[3, 3], scores[1, 1]]), torch.stack([extra[3, 0], extra[1, 1]]))
    assert torch.isclose(pitched, plain + margin)


def test_harmony_columns_hold_other_songs_pitched_targets_transpositions_and_degenerate_clips() -> None:
    """Columns in `ContrastiveStep`'s order: B targets, P transposed, Q stretched, M degenerate,
    R re-rendered, O moved. A row holds its own target, other songs' pitched targets, the
    transposed, degenerate and re-rendered clips; not its song's other targets, drum targets,
    the stretched or the moved ones."""
    batch = types.SimpleNamespace(song=np.array(["a", "a", "b", "c"]), pitched=np.array([True, True, False, True]))
    negatives = {"pitch_idx": np.array([0, 3]), "tempo_idx": np.array([1]), "degenerate": np.zeros((2, 8)),
                 "rerendered_idx": np.array([3]), "offset_idx": np.array([0, 1])}
    allowed = train.harmony_columns(batch, negatives)
    assert allowed.shape == (4, 4 + 2 + 1 + 2 + 1 + 2)
    assert allowed[:, :4].tolist() == [[True, False, False, True], [False, True, False, True],
                                       [True, True, True, True], [True, True, False, True]]
    assert allowed[:, 4:6].all() and not allowed[:, 6].any() and allowed[:, 7:10].all() and not allowed[:, 10:].any()
    plain = {"pitch_idx": np.zeros(0, int), "tempo_idx": np.zeros(0, int), "degenerate": np.zeros((0, 8))}
    assert train.harmony_columns(batch, plain).shape == (4, 4)


def test_harmony_nce_weight_adds_a_harmony_only_infonce_over_the_pitched_rows() -> None:
    """The term reads the third output (the harmony block's scores) over `harmony_columns`, for
    the pitched pairs' rows; the columns it leaves out change nothing."""
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    extra = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))  # P = 1, Q = 1, M = 1
    harmony = torch.randn(4, 7, generator=torch.Generator().manual_seed(2))

    class Fixed(torch.nn.Module):
        def __init__(self, harmony: torch.Tensor) -> None:
            super().__init__()
            self.harmony = harmony

        def forward(self, context, target, negatives):  # noqa: ANN001, ANN202 (a stand-in for ContrastiveStep)
            return scores, extra, self.harmony

    batch = types.SimpleNamespace(context=np.zeros((4, 8), np.float32), target=np.zeros((4, 8), np.float32),
                                  song=np.array(["a", "a", "b", "c"]), pitched=np.array([True, True, False, True]))
    negatives = {"pitch_idx": np.array([0]), "tempo_idx": np.array([2]), "degenerate": np.zeros((1, 8), np.float32)}
    cfg = train.TrainConfig(label_smoothing=0.0, amp="none")
    plain = train.pair_loss(Fixed(harmony), batch, negatives, cfg, torch.device("cpu"))
    assert torch.isclose(plain, info_nce(scores, 0.0, extra))
    weighted = train.pair_loss(Fixed(harmony), batch, negatives, dataclasses.replace(cfg, harmony_nce_weight=0.7),
                               torch.device("cpu"))
    columns = {0: [0, 3, 4, 6], 1: [1, 3, 4, 6], 3: [0, 1, 3, 4, 6]}  # own, other songs' pitched, P, M
    by_hand = sum(torch.logsumexp(harmony[i, cols], 0) - harmony[i, i] for i, cols in columns.items()) / 3
    assert torch.isclose(weighted, plain + 0.7 * by_hand)
    moved = harmony.clone()
    moved[:, [2, 5]] += 100.0  # the drum target and the stretched one: left out
    moved[2] += 50.0  # the drum pair's row: left out
    assert torch.isclose(train.pair_loss(Fixed(moved), batch, negatives, dataclasses.replace(cfg, harmony_nce_weight=0.7),
                                         torch.device("cpu")), weighted)


def test_harmony_nce_weight_needs_a_harmony_branch(rendered_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="harmony branch"):
        train.main(train_args(rendered_root, tmp_path / "run", 1, harmony_nce_weight=0.5))


def test_model_overrides_apply_to_the_config_of_init_from_weights(rendered_root: Path, tmp_path: Path) -> None:
    """`--model` with weights to start from: their config with the overrides (here a sharper
    CQT), their parameters; max_steps 0 validates the start only."""
    train.main(train_args(rendered_root, tmp_path / "first", 1))
    start = tmp_path / "first" / "best"
    train.main(train_args(rendered_root, tmp_path / "next", 0, init_from=str(start), model={"filter_scale": 2.0}))
    before, after = (load_pretrained(folder) for folder in (start, tmp_path / "next" / "best"))
    assert before.config.filter_scale == 1.0 and after.config.filter_scale == 2.0
    assert dataclasses.replace(after.config, filter_scale=1.0) == before.config
    for name, value in before.state_dict().items():
        assert torch.equal(value, after.state_dict()[name]), name


def test_a_harmony_branch_added_to_trained_weights_starts_from_their_scores() -> None:
    """`--model='{"harmony_dim": E}'` on weights without the branch: theirs kept, the branch
    new, its block V = 0, so the scores are those of the start; dropping a branch is refused."""
    torch.manual_seed(0)
    start = PhaLar(PhaLarConfig.from_dict(TINY_MODEL)).eval()
    grown = train.with_config(start, {"harmony_dim": 4}, seed=1).eval()
    assert grown.config.harmony_dim == 4 and grown.harmony is not None
    wav = torch.randn(3, 16000, generator=torch.Generator().manual_seed(2)) * 0.1
    with torch.no_grad():
        assert torch.allclose(grown(wav, wav), start(wav, wav), atol=1e-5)
    with pytest.raises(ValueError, match="harmony"):
        train.with_config(grown, {"harmony_dim": 0}, seed=1)


def test_the_harmony_block_leaves_zero_in_training(rendered_root: Path, tmp_path: Path) -> None:
    train.main(train_args(rendered_root, tmp_path / "run", 2, model={**TINY_MODEL, "harmony_dim": 4}))
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    assert ckpt["model"]["similarity.harmony_weight"].abs().max() > 0
    assert len(ckpt["optimizer"]["param_groups"]) == 4


def test_pitch_copies_repeat_each_chosen_target_with_its_own_intervals() -> None:
    """With `pitch_copies=3` every pitched target appears three times in `pitch_idx`, each
    copy with a transposition of ±1..11 semitones; with 1 the draw is the default's, and fewer
    than 1 is refused."""
    config = PhaLarConfig(**TINY_MODEL)
    pitched = np.array([True, False, True, True])
    batch = types.SimpleNamespace(target=np.zeros((4, 16000), np.float32), pitched=pitched)
    draw = lambda **kw: train.draw_negatives(np.random.default_rng(5), batch, train.TrainConfig(**kw), config)
    one, three = draw(), draw(pitch_copies=3)
    assert list(one["pitch_idx"]) == [0, 2, 3] and list(three["pitch_idx"]) == [0, 0, 0, 2, 2, 2, 3, 3, 3]
    assert len(three["pitch_bins"]) == 9 and set(np.abs(three["pitch_bins"])) <= set(range(1, 12))
    assert len(set(three["pitch_bins"].tolist())) > 1  # drawn per copy, not one interval repeated
    assert np.array_equal(one["pitch_bins"], draw(pitch_copies=1)["pitch_bins"])
    with pytest.raises(ValueError, match="pitch_copies"):
        draw(pitch_copies=0)


def test_pitch_interval_weights_reach_the_draw_from_the_command_line() -> None:
    """`--pitch_interval_weights=[...]` parses to a list and picks the intervals drawn."""
    cfg = parse_overrides(train.TrainConfig, ["--pitch_interval_weights=[0,0,0,1,0,0,0,0,0,0,0]", "--pitch_copies=4"])
    config = PhaLarConfig(**TINY_MODEL)
    batch = types.SimpleNamespace(target=np.zeros((4, 16000), np.float32), pitched=np.ones(4, bool))
    negatives = train.draw_negatives(np.random.default_rng(0), batch, cfg, config)
    assert len(negatives["pitch_bins"]) == 16 and set(np.abs(negatives["pitch_bins"])) == {4}


def test_mistyped_interval_weights_stop_the_trainer_before_the_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="weights"):
        train.main([f"--data={tmp_path / 'no_cache'}", f"--out_dir={tmp_path / 'run'}", "--pitch_interval_weights=[1,2]"])


def test_mistyped_degenerate_kinds_stop_the_trainer_before_the_data(tmp_path: Path) -> None:
    cfg = parse_overrides(train.TrainConfig, ["--degenerate_kinds=silence,tone_clicks"])
    assert cfg.degenerate_kinds == "silence,tone_clicks"  # a string, read by negatives.degenerate_kinds
    with pytest.raises(ValueError, match=r"\['tone_click'\] in 'silence,tone_click'"):
        train.main([f"--data={tmp_path / 'no_cache'}", f"--out_dir={tmp_path / 'run'}",
                    "--degenerate_kinds=silence,tone_click"])
    assert not (tmp_path / "run").exists()


def test_source_weights_fit_the_training_songs_before_the_validation(rendered_root: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def no_validation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the validation set was built before the songs were checked")

    monkeypatch.setattr(train.ValidationSet, "build", no_validation)
    with pytest.raises(ValueError, match=r"songs in .*/train: .* no weight for the sources \['procedural'\]"):
        train.main(train_args(rendered_root, tmp_path / "run", 1, source_weights={"procdural": 1}))
    with pytest.raises(ValueError, match="non-negative numbers"):
        train.main(train_args(tmp_path / "no_cache", tmp_path / "run2", 1, source_weights={"procedural": -1}))
    assert not (tmp_path / "run2").exists()


def test_pair_shift_p_adds_pair_bins_and_zero_keeps_the_draws() -> None:
    config = PhaLarConfig(**TINY_MODEL)
    batch = types.SimpleNamespace(target=np.zeros((6, 16000), np.float32), pitched=np.ones(6, bool))
    draw = lambda **kw: train.draw_negatives(np.random.default_rng(3), batch, train.TrainConfig(**kw), config)
    plain, shifted = draw(), draw(pair_shift_p=1.0)
    assert "pair_bins" not in plain and len(shifted["pair_bins"]) == 6 and shifted["pair_bins"].all()
    assert np.array_equal(np.abs(plain["pitch_bins"]), np.abs(shifted["pitch_bins"]))
    assert np.array_equal(plain["degenerate"], shifted["degenerate"])  # drawn after everything else


def test_a_run_with_whole_pairs_shifted_and_two_copies_trains(rendered_root: Path, tmp_path: Path) -> None:
    train.main(train_args(rendered_root, tmp_path / "run", 2, pair_shift_p=0.5, pitch_copies=2))
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and all(math.isfinite(float(r.split(",")[1])) for r in rows)


def test_adapted_intervals_follow_the_latest_validation(rendered_root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With `pitch_interval_adapt=val`, the steps before the first validation draw by
    `pitch_interval_weights` and every later step by one minus the latest `val/pitch@k`; the
    eleven shares go to intervals.csv and the history, not val.csv."""
    used: list = []
    draw = train.draw_negatives
    monkeypatch.setattr(train, "draw_negatives", lambda *a: used.append(a[4]) or draw(*a))
    fixed = [1.0] * 3 + [2.0] + [1.0] * 7
    train.main(train_args(rendered_root, tmp_path / "run", 4, pitch_interval_adapt="val", pitch_interval_weights=fixed))
    history = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["history"]
    assert [h["step"] for h in history] == [2, 4]
    assert used[:2] == [fixed, fixed] and used[2:] == [interval_weights_from(history[:1], "val")] * 2
    assert used[2] != fixed and all(0 < w <= 1 for w in used[2])
    header = lambda name: (tmp_path / "run" / name).read_text().splitlines()[0].split(",")
    assert not any(is_interval_metric(c) for c in header("val.csv")) and "val/pitch_min" in header("val.csv")
    assert {f"val/pitch@{k}" for k in range(1, 12)} <= set(header("intervals.csv"))
    assert all(is_interval_metric(c) for c in header("intervals.csv")[1:])
    assert len((tmp_path / "run" / "intervals.csv").read_text().splitlines()) == 3


def test_under_ddp_every_process_draws_rank_0s_adapted_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only rank 0 validates: with DDP the weights are broadcast from it and the broadcast's
    result is what a process draws by (its own, empty history notwithstanding); without
    `pitch_interval_adapt` nothing is broadcast."""
    rank0 = [0.3] * 11
    calls: list = []

    def broadcast(box: list, src: int) -> None:
        calls.append((list(box), src))
        box[0] = rank0

    monkeypatch.setattr(train.dist, "broadcast_object_list", broadcast)
    cfg = train.TrainConfig(pitch_interval_adapt="val")
    assert train._interval_weights([], cfg, ddp=True, master=False) == rank0 and calls == [([[]], 0)]
    assert train._interval_weights([], train.TrainConfig(), ddp=True, master=False) == [] and len(calls) == 1


@pytest.mark.parametrize("extra, match", [({"pitch_interval_adapt": "train"}, "pitch_interval_adapt"),
                                          ({"pitch_interval_adapt": "val", "model": {**TINY_MODEL, "frontend": "mel"}},
                                           "pitch_interval_adapt"),
                                          ({"select_on": "val/pitch@4"}, "select_on")])
def test_adapting_to_a_split_without_shares_or_selecting_on_one_interval_is_refused(
        rendered_root: Path, tmp_path: Path, extra: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train.main(train_args(rendered_root, tmp_path / "run", 2, **extra))


def test_torchrun_stops_every_process_on_a_bad_selection_metric(rendered_root: Path, tmp_path: Path) -> None:
    """Rank 0 alone checks `select_on` (it alone builds the validation set): the other process
    must not wait for it forever; the run ends with the error."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "training.train", *train_args(rendered_root, tmp_path / "run", 4, select_on="ood/nothing")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode != 0
    assert "--select_on=ood/nothing: no val.csv metric 'ood/nothing'" in done.stderr
