import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from ssae.startup import params_or_exit
from ssae.core.config import ConfigError, Params, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def committed() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_committed_params_parse_and_are_typed():
    p = load_params(ROOT / "params.yaml")
    assert isinstance(p, Params)
    assert p.train.model.widths == tuple(committed()["train"]["model"]["widths"])
    assert isinstance(p.train.lr, float)
    with pytest.raises(AttributeError):
        p.train.epochs = 3  # frozen


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda r: r["train"].__setitem__("epochs", -3), "train.epochs"),
        (lambda r: r["train"].__setitem__("steps", -1), "train.steps"),
        (lambda r: r["train"].__setitem__("epoch", 3), "train.epoch"),
        (lambda r: r["train"]["model"].__setitem__("widths", "wide"), "train.model.widths"),
        (lambda r: r["train"].__setitem__("lr", "fast"), "train.lr"),
        (lambda r: r["train"].__setitem__("noise", "salt"), "train.noise"),
        (lambda r: r.__setitem__("categories", ["brick", "marble"]), "categories"),
        (lambda r: r["data"]["embedded"].__setitem__("image_size", 0), "data.embedded.image_size"),
        (lambda r: r["data"].__setitem__("dataset", "imagenet"), "data.dataset"),
        (lambda r: r["train"].__setitem__("image_size", 60), "train.image_size"),
        (lambda r: r["train"]["model"].__setitem__("pad", 2), "train.model.pad"),
        (lambda r: r["train"]["model"].__setitem__("pad", 64), "train.model.pad"),
        (lambda r: r["train"]["model"].__setitem__("pad", -4), "train.model.pad"),
        (lambda r: r["masks"].__setitem__("max_count", 0), "masks.max_count"),
        (lambda r: r["data"]["mvtec"].__setitem__("sha256", "cf43"), "data.mvtec.sha256"),
        (lambda r: r["data"]["mvtec"].__setitem__("source", "torrent"), "data.mvtec.source"),
        (lambda r: r["data"]["mvtec"].__setitem__("mirrors", ["ftp://x"]), "data.mvtec.mirrors"),
        (lambda r: r["data"]["mvtec"].__setitem__("attempts", 0), "data.mvtec.attempts"),
        (lambda r: r["data"]["mvtec"].__setitem__("read_timeout", 0), "data.mvtec.read_timeout"),
        (lambda r: r["data"].__setitem__("mvtec_dir", "/old/key"), "data.mvtec_dir"),
        (lambda r: r.__setitem__("extra", 1), "extra"),
        (lambda r: r["masks"].update(bezier=0, perlin=0, stroke=0), "masks.stroke"),
        (lambda r: r["masks"].__setitem__("max_stroke_width", 0.001), "masks.max_stroke_width"),
        (lambda r: r["train"].__setitem__("schedule", "step"), "train.schedule"),
        (lambda r: r["train"].__setitem__("blend", 1.5), "train.blend"),
        (lambda r: r["train"].__setitem__("augment", "rot45"), "train.augment"),
        (lambda r: r["train"].__setitem__("device", "tpu"), "train.device"),
        (lambda r: r["score"].__setitem__("device", "gpu"), "score.device"),
        (lambda r: r["train"].__setitem__("lr", float("inf")), "train.lr"),
        (lambda r: r["train"].__setitem__("weight_decay", float("nan")), "train.weight_decay"),
        (lambda r: r["data"]["mvtec"].__setitem__("read_timeout", float("inf")), "data.mvtec.read_timeout"),
    ],
)
def test_bad_values_name_the_key(edit, key):
    raw = committed()
    edit(raw)
    with pytest.raises(ConfigError) as e:
        parse_params(raw)
    assert str(e.value).startswith(f"{key}:"), str(e.value)


@pytest.mark.parametrize("source, key", [("remote", "mirrors"), ("archive", "archive"), ("directory", "directory")])
def test_each_mvtec_source_needs_its_setting(source, key):
    raw = committed()
    raw["data"]["dataset"] = "mvtec_ad"
    raw["data"]["mvtec"].update(source=source, mirrors=[])
    with pytest.raises(ConfigError, match=f"^data.mvtec.{key}: "):
        parse_params(raw)
    raw["data"]["mvtec"].update(mirrors=["https://example.org/m.tar.xz"], archive="/a.tar.xz", directory="/d")
    raw["categories"] = ["bottle", "screw"]
    p = parse_params(raw)
    assert p.categories == ("bottle", "screw") and p.data.mvtec.source == source


def test_mvtec_defaults_are_the_known_mirrors_and_the_pinned_checksum():
    m = Params().data.mvtec
    assert m.source == "remote" and len(m.mirrors) == 3 and all(u.endswith(".tar.xz") for u in m.mirrors)
    assert m.sha256 == "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"
    assert m.cache_dir.startswith("~") and "data/raw" not in m.cache_dir


@pytest.mark.slow  # starts processes
def test_stage_stops_before_work_on_bad_params(tmp_path):
    raw = committed()
    raw["train"]["epochs"] = 0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    r = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "train.py"), "--category", "brick"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "train.epochs: must be >= 1, got 0" in r.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.slow  # starts processes
def test_stage_rejects_a_category_not_in_params(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(committed()))
    r = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "masks.py"), "--category", "screw"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "'screw' is not in params.yaml categories" in r.stderr


HEAVY = ("torch", "pandas", "numpy", "matplotlib", "dvclive", "skimage")
SHOW_HELP = """
import runpy, sys
sys.argv = [sys.argv[1], "--help"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print("loaded:", sorted(m for m in {heavy} if m in sys.modules))
"""


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("stage", ["download", "masks", "train", "score", "aggregate"])
def test_every_stage_has_help_that_teaches_and_loads_nothing_heavy(stage):
    r = subprocess.run(
        [sys.executable, "-c", SHOW_HELP.format(heavy=HEAVY), str(ROOT / "stages" / f"{stage}.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for part in ("Reads: ", "Writes: ", "Example: python stages/", "params.yaml"):
        assert part in text, part
    assert ("data/" in text or "reports/" in text) and text.endswith("loaded: []")


def test_dataclass_defaults_are_the_committed_params():
    # one source of truth: a default that drifted from params.yaml would mislead library users
    assert load_params(ROOT / "params.yaml") == Params()


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_non_finite_numbers_are_rejected(tmp_path, value):
    text = (ROOT / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text.replace("\n  lr: ", f"\n  lr: {value}  # was ", 1))
    with pytest.raises(ConfigError, match=r"params.yaml: train.lr: must be a finite number, got -?(inf|nan)$"):
        load_params(tmp_path / "params.yaml")


def test_a_duplicated_key_is_rejected_with_its_line(tmp_path):
    lines = (ROOT / "params.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  epochs:"))
    lines.insert(at + 1, "  epochs: 999")
    (tmp_path / "params.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'params.yaml'}: line {at + 2}: duplicate key 'epochs'$"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("text", ["", "\n# nothing but a comment\n"])
def test_an_empty_params_file_is_rejected(tmp_path, text):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"params.yaml: empty: it must hold the params sections"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("text, problem", [("seed: [0\n", "not valid YAML"), ("seed: -1\n", "seed: must be >= 0")])
def test_a_stage_names_params_yaml_once(tmp_path, monkeypatch, capsys, text, problem):
    (tmp_path / "params.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(typer.Exit):
        params_or_exit()
    err = capsys.readouterr().err
    assert err.startswith(f"error: params.yaml: {problem}") and err.count("params.yaml") == 1


# --- per-category overrides ---------------------------------------------------------------


def test_an_override_applies_to_its_category_only():
    raw = committed()
    raw["overrides"]["brick"] = {"masks": {}, "train": {}, "score": {}}
    raw["overrides"]["grass"] = {
        "masks": {"per_image": 3},
        "train": {"epochs": 40, "model": {"sdc_blocks": 0}},
        "score": {"sigma": 4},
    }
    p = parse_params(raw)
    grass, brick = p.for_category("grass"), p.for_category("brick")
    assert (grass.masks.per_image, grass.train.epochs, grass.train.model.sdc_blocks, grass.score.sigma) == (
        3,
        40,
        0,
        4.0,
    )
    assert grass.train.lr == p.train.lr and grass.train.model.widths == p.train.model.widths  # the rest inherited
    assert brick.train == p.train and brick.masks == p.masks and brick.score == p.score


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda o: o.__setitem__("marble", {"train": {}}), r"^overrides.marble: unknown category"),
        (lambda o: o["grass"].__setitem__("aggregate", {}), r"^overrides.grass.aggregate: unknown key"),
        (lambda o: o["grass"].__setitem__("train", {"epoch": 3}), r"^overrides.grass.train.epoch: unknown key"),
        (lambda o: o["grass"].__setitem__("train", {"epochs": 0}), r"^overrides.grass.train.epochs: must be >= 1"),
        (lambda o: o["grass"].__setitem__("score", {"map": "l1"}), r"^overrides.grass.score.map: must be one of"),
        (
            lambda o: o["grass"].__setitem__("train", {"image_size": 60}),
            r"^overrides.grass.train.image_size: must be divisible",
        ),
        (lambda o: o["grass"].__setitem__("masks", [1]), r"^overrides.grass.masks: must be a mapping"),
    ],
)
def test_a_bad_override_names_its_key(edit, message):
    raw = committed()
    edit(raw["overrides"])
    with pytest.raises(ConfigError, match=message):
        parse_params(raw)


def test_a_category_left_out_of_overrides_has_none():
    raw = committed()
    del raw["overrides"]["brick"]
    assert parse_params(raw).for_category("brick").train == Params().train


def test_a_stage_sees_its_categorys_overrides(tmp_path, monkeypatch):
    raw = committed()
    raw["overrides"]["tissue"]["train"] = {"lr": 0.05}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    assert Params().train.lr != 0.05
    assert params_or_exit("tissue").train.lr == 0.05 and params_or_exit("brick").train.lr == Params().train.lr
