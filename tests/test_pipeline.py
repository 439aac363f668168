"""End to end: the real dvc.yaml on a tiny budget in a temporary git repository.

Runs `dvc repro`, then `dvc exp run -S train.epochs=...` and `dvc metrics diff`, and checks
the files and values they produce; then that a per-category override, and adding or removing
a category, re-run only that category's stages and aggregate.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY_TRAINING, commit, new_project, run
from ssae.core.artifacts import load_npz
from ssae.core.config import load_params
from ssae.evaluation.score_file import load_scores
from ssae.method.anomaly_maps import image_scores

pytestmark = pytest.mark.slow  # runs stages and dvc as processes

TINY = {
    "categories": ["brick", "tissue"],
    "data": {"embedded": {"image_size": 48, "zoom": 0.5, "n_train": 6, "n_test_good": 3, "n_test_per_defect": 1}},
    **TINY_TRAINING,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The tiny project after `dvc repro`, results not committed. Tests only read it: a test that
    changes the project works on its own copy (``repo``), so that the tests do not depend on the
    order they run in."""
    dst = new_project(tmp_path_factory.mktemp("pipeline"), TINY)
    run(["dvc", "repro"], dst)
    return dst


@pytest.fixture
def repo(built, tmp_path) -> Path:
    """A copy of ``built`` (git history, DVC cache and outputs) with its results committed."""
    dst = tmp_path / "repo"
    shutil.copytree(built, dst, symlinks=True)
    commit(dst, "results")  # metrics and plots are in git (cache: false): the baseline
    return dst


def test_repro_writes_every_artifact(built):
    repo = built
    p = load_params(repo / "params.yaml")
    for c in p.categories:
        assert len(list((repo / "data/raw" / c / "test").iterdir())) == 7  # good + 6 defect types
        assert (repo / f"data/masks/{c}.npz").is_file()
        meta = json.loads((repo / f"data/models/{c}/meta.json").read_text())
        assert meta["train"]["epochs"] == 1 and meta["seed"] == p.seed and meta["n_params"] > 0
        assert meta["n_train_images"] == 5  # 6 normal images, 1 held out for the threshold
        scores = load_npz(repo / f"data/scores/{c}.npz")
        n = 3 + 6
        assert scores["maps"].shape == (n, 32, 32) and scores["maps"].dtype == np.float16
        assert scores["labels"].sum() == 6 and scores["gt_shape"].tolist() == [n, 48, 48]
        assert (repo / f"reports/figures/gallery_{c}.png").stat().st_size > 10_000
        loss = (repo / f"reports/train/{c}/plots/metrics/train/loss.tsv").read_text().splitlines()
        assert loss[0].split("\t") == ["step", "loss"] and len(loss) == 2
    roc = pd.read_csv(repo / "reports/plots/roc.csv")  # one file, one series per category
    assert list(roc.columns) == ["category", "fpr", "tpr"] and list(roc.category.unique()) == list(p.categories)
    for _, curve in roc.groupby("category"):
        assert curve.iloc[0][["fpr", "tpr"]].tolist() == [0, 0] and curve.iloc[-1][["fpr", "tpr"]].tolist() == [1, 1]
    for name, columns in (("pro", ["category", "fpr", "pro"]), ("loss", ["category", "epoch", "loss"])):
        assert pd.read_csv(repo / f"reports/plots/{name}.csv").columns.tolist() == columns
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics["categories"]) == set(p.categories)
    assert metrics["n_categories"] == 2 and metrics["mean_over"] == "brick,tissue"
    for row in metrics["categories"].values():
        assert set(row) == {
            "image_auroc",
            "pixel_auroc",
            "aupro",
            "image_f1_max",
            "pixel_ap",
            "precision",
            "recall",
            "f1",
        }
        assert all(v is None or 0 <= v <= 1 for v in row.values())
        assert row["recall"] is not None  # every embedded category has anomalous test images
    for k, v in metrics["mean"].items():  # over the categories where the metric is available
        values = [r[k] for r in metrics["categories"].values() if r[k] is not None]
        assert v == (pytest.approx(np.mean(values), abs=2e-6) if values else None)
    table = (repo / "reports/results.md").read_text()
    assert "| mean |" in table and "48x48 px" in table and "over the 2 categories" in table
    for f in ("metrics_bars", "roc", "train_loss"):
        assert (repo / f"reports/figures/{f}.png").stat().st_size > 5_000


# The fingerprint stage lists the folders outside the workspace on every `dvc repro` (always
# changed); everything else runs only when something it depends on changed.
ALWAYS = {"fingerprint": ["always changed"]}


def test_second_repro_runs_only_the_fingerprint_listing(repo):
    assert json.loads(run(["dvc", "status", "--json"], repo)) == ALWAYS
    assert ran(run(["dvc", "repro"], repo)) == {"fingerprint"}
    assert json.loads(run(["dvc", "status", "--json"], repo)) == ALWAYS
    assert run(["git", "status", "--porcelain"], repo) == ""  # the same bytes: nothing to commit


def test_experiment_and_metrics_diff(repo):
    before = json.loads((repo / "reports/metrics.json").read_text())
    out = run(["dvc", "exp", "run", "-S", "train.epochs=2", "-S", "score.spread=pixel"], repo)
    for stage in ("download@brick", "masks@brick", "masks@tissue"):  # they do not read train.epochs
        assert f"Stage '{stage}' didn't change, skipping" in out
    assert "Running stage 'train@brick'" in out
    meta = json.loads((repo / "data/models/brick/meta.json").read_text())
    assert meta["train"]["epochs"] == 2
    loss = (repo / "reports/train/brick/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(loss) == 3
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], repo))
    changed = diff["reports/metrics.json"]
    assert "mean.pixel_auroc" in changed
    assert changed["mean.pixel_auroc"]["old"] == before["mean"]["pixel_auroc"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert lock["stages"]["train@brick"]["params"]["params.yaml"]["train"]["epochs"] == 2
    # score.spread: pixel: the train stage writes the spread, the score stage divides by it
    assert lock["stages"]["train@brick"]["params"]["params.yaml"]["score.spread"] == "pixel"
    spread = load_npz(repo / "data/models/brick/spread.npz")["spread"]
    cal = json.loads((repo / "data/models/brick/calibration.json").read_text())
    assert cal["spread"]["kind"] == "pixel"
    scores = load_scores(repo / "data/scores/brick.npz")
    maps = scores["maps"].astype(np.float32)  # stored as float16
    assert np.allclose(scores["scores"], image_scores(maps, cal["image_topk"], spread), rtol=2e-3)
    assert not np.allclose(scores["scores"], image_scores(maps, cal["image_topk"]), rtol=0.1)
    compare = run(
        [sys.executable, "-m", "ssae.experiments.compare", "--category", "tissue"], repo
    ).splitlines()  # make compare
    assert max(map(len, compare)) <= 120 and "tissue img" in compare[0]
    assert sum("t.epochs=" in line for line in compare) >= 1


def test_seeds_run_as_experiments_and_tabulate(repo):
    params = (repo / "params.yaml").read_bytes()
    out = run(
        [sys.executable, "-m", "ssae.experiments.seed_study", "run", "tiny", "--seeds", "2", "-S", "train.epochs=1"],
        repo,
    )
    assert (repo / "params.yaml").read_bytes() == params  # --temp: the workspace is left alone
    record = json.loads((repo / "reports/seeds/tiny.json").read_text())
    assert record["overrides"] == ["train.epochs=1"] and set(record["seeds"]) == {"0", "1"}
    s0, s1 = (record["seeds"][s]["categories"]["brick"] for s in ("0", "1"))
    assert s0 != s1  # the seed changes the result
    assert "| **mean** |" in out and " ± " in out
    head = run(["git", "rev-parse", "HEAD"], repo).strip()
    refs = run(["git", "for-each-ref", "--format=%(refname)", f"refs/exps/{head[:2]}/{head[2:]}"], repo).split()
    assert {r.rsplit("/", 1)[1] for r in refs} >= {"tiny-seed0", "tiny-seed1"}
    (repo / "reports/seeds/other.json").write_text(json.dumps(record | {"name": "other"}))
    table = run([sys.executable, "-m", "ssae.experiments.seed_study", "table", "tiny", "other"], repo)
    assert "| tiny | `train.epochs=1` | 2 |" in table and "| other |" in table
    assert "+0.0 " in table or "+0.0 |" in table  # the same runs: no difference, not significant


def test_push_fresh_clone_pull_reproduces_without_recomputing(repo, tmp_path):
    remote = tmp_path / "remote"
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(remote)], repo)
    run(["dvc", "push"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(remote)], clone)
    run(["dvc", "pull"], clone)
    for f in ("data/models/brick/model.pt", "data/scores/tissue.npz", "data/masks/brick.npz"):
        assert (clone / f).read_bytes() == (repo / f).read_bytes(), f
    # the manifests are listings of this machine (cache: false, never pushed): the clone lists
    # its own, which match the committed hashes, and nothing else runs
    assert ran(run(["dvc", "repro"], clone)) == {"fingerprint"}
    assert json.loads(run(["dvc", "status", "--json"], clone)) == ALWAYS


def edit_params(repo: Path, edit) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def changed_stages(repo: Path) -> set[str]:
    """The stages `dvc status` reports, but the always-changed fingerprint stage (whose params,
    categories and data, may have changed too)."""
    status = json.loads(run(["dvc", "status", "--json"], repo))
    assert "always changed" in status.pop("fingerprint")
    return set(status)


def ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")}


def test_a_per_category_override_reruns_only_that_category(repo):
    edit_params(repo, lambda p: p["overrides"]["tissue"]["score"].update(gallery_per_type=2))
    # the threshold is calibrated in train with the category's score.map and score.sigma, so train
    # tracks the category's score overrides too
    assert changed_stages(repo) == {"train@tissue", "score@tissue"}
    # the same model and scores come out (only the gallery changes), so aggregate is not re-run
    assert ran(run(["dvc", "repro"], repo)) == {"fingerprint", "train@tissue", "score@tissue"}

    edit_params(repo, lambda p: p["overrides"]["tissue"]["train"].update(epochs=3))
    # masks reads train.image_size, so it tracks the category's train overrides too
    assert changed_stages(repo) == {"masks@tissue", "train@tissue"}
    assert ran(run(["dvc", "repro"], repo)) == {
        "fingerprint",
        "masks@tissue",
        "train@tissue",
        "score@tissue",
        "aggregate",
    }
    epochs = {
        c: json.loads((repo / f"data/models/{c}/meta.json").read_text())["train"]["epochs"] for c in ("brick", "tissue")
    }
    assert epochs["tissue"] == 3 and epochs["brick"] == load_params(repo / "params.yaml").train.epochs
    commit(repo, "tissue overridden")


def test_adding_a_category_runs_only_its_stages_and_removing_one_only_aggregate(repo):
    edit_params(repo, lambda p: p.__setitem__("categories", ["brick", "tissue", "grass"]))
    new = {f"{s}@grass" for s in ("download", "masks", "train", "score")}
    assert changed_stages(repo) == new | {"aggregate"}
    assert ran(run(["dvc", "repro"], repo)) == new | {"fingerprint", "aggregate"}
    assert json.loads((repo / "reports/metrics.json").read_text())["n_categories"] == 3
    commit(repo, "grass added")

    edit_params(repo, lambda p: p.__setitem__("categories", ["brick", "tissue"]))
    assert changed_stages(repo) == {"aggregate"}
    out = run(["dvc", "repro"], repo)
    assert ran(out) == {"fingerprint", "aggregate"}
    assert "note: data/scores/grass.npz, reports/train/grass: not in params.yaml categories" in out
    commit(repo, "grass removed")
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--json"], repo))["reports/metrics.json"]
    assert diff["n_categories"] == {"old": 3, "new": 2, "diff": -1}  # the means are over different sets
