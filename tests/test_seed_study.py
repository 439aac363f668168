"""seed_study run: a record is written after every seed, extended rather than re-run, and never
silently mixed with other overrides (DVC is replaced by a stand-in that records its calls)."""

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssae.experiments import seed_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def study(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    calls = []
    commit = {"head": "aaaaaaa"}

    def run_seed(name, seed, overrides):
        calls.append((name, seed, commit["head"]))
        if seed == 2 and commit.get("fail"):
            raise RuntimeError("killed")
        return {"mean": {"image_auroc": 0.5 + seed / 10}, "categories": {"brick": {"image_auroc": 0.5 + seed / 10}}}

    monkeypatch.setattr(seed_study, "run_seed", run_seed)
    monkeypatch.setattr(seed_study, "_git", lambda *args: commit["head"])
    return calls, commit


def invoke(*args):
    return CliRunner().invoke(seed_study.app, ["run", *args])


def flat(text: str) -> str:
    """The output without the error box's frame and line breaks."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def test_a_record_is_extended_with_the_missing_seeds_only(study):
    calls, commit = study
    assert invoke("lr", "--seeds", "1", "-S", "train.lr=0.02").exit_code == 0
    commit["head"] = "bbbbbbb"
    result = invoke("lr", "--seeds", "3", "-S", "train.lr=0.02")
    assert result.exit_code == 0, result.output
    assert calls == [("lr-seed0", 0, "aaaaaaa"), ("lr-seed1", 1, "bbbbbbb"), ("lr-seed2", 2, "bbbbbbb")]
    record = json.loads(Path("reports/seeds/lr.json").read_text())
    assert record["commits"] == {"0": "aaaaaaa", "1": "bbbbbbb", "2": "bbbbbbb"}
    assert record["baseline"] == "aaaaaaa" and sorted(record["seeds"]) == ["0", "1", "2"]
    assert "seed 0: recorded at aaaaaaa, kept" in result.output


def test_a_stopped_study_keeps_the_seeds_it_finished(study):
    calls, commit = study
    commit["fail"] = True
    assert invoke("lr", "--seeds", "3").exit_code != 0
    record = json.loads(Path("reports/seeds/lr.json").read_text())
    assert sorted(record["seeds"]) == ["0", "1"]
    commit["fail"] = False
    assert invoke("lr", "--seeds", "3").exit_code == 0
    assert [c[1] for c in calls] == [0, 1, 2, 2]


def test_other_overrides_under_the_same_name_are_refused_unless_fresh(study):
    calls, _ = study
    assert invoke("lr", "--seeds", "1", "-S", "train.lr=0.02").exit_code == 0
    result = invoke("lr", "--seeds", "2", "-S", "train.lr=0.05")
    assert result.exit_code == 2 and "holds other overrides (train.lr=0.02)" in flat(result.output)
    assert len(calls) == 1
    assert invoke("lr", "--seeds", "1", "--fresh", "-S", "train.lr=0.05").exit_code == 0
    record = json.loads(Path("reports/seeds/lr.json").read_text())
    assert record["overrides"] == ["train.lr=0.05"] and len(calls) == 2


def test_an_old_record_without_commits_counts_its_seeds_at_the_baseline(study):
    calls, commit = study
    Path("reports/seeds").mkdir(parents=True)
    old = {"name": "old", "overrides": [], "baseline": "0123456", "seeds": {"0": {"mean": {}, "categories": {}}}}
    Path("reports/seeds/old.json").write_text(json.dumps(old))
    assert invoke("old", "--seeds", "2").exit_code == 0
    record = json.loads(Path("reports/seeds/old.json").read_text())
    assert record["commits"] == {"0": "0123456", "1": "aaaaaaa"} and [c[1] for c in calls] == [1]
