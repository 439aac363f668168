"""Protocols: the committed ones validate against params.yaml; overrides are checked and become -S flags."""

from pathlib import Path

import pytest
import yaml

from ssae.core.config import ConfigError, parse_params
from ssae.experiments.protocols import PROTOCOLS, apply, command, load_protocol, parse_overrides

ROOT = Path(__file__).resolve().parents[1]
MVTEC = {"data.mvtec.source": "directory", "data.mvtec.directory": "/somewhere", "categories": ["pill"]}


@pytest.fixture
def raw():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.mark.parametrize("name", ["cpu", "cpu-long", "paper"])
def test_committed_protocols_are_valid_params(raw, name, monkeypatch):
    monkeypatch.chdir(ROOT)
    overrides = load_protocol(name)
    params = parse_params(apply(raw, overrides | MVTEC))
    assert params.data.dataset == "mvtec_ad" and params.categories == ("pill",)
    assert params.train.image_size == overrides["train.image_size"]


def test_the_cpu_protocols_differ_only_in_their_budget_and_peak_learning_rate(raw, monkeypatch):
    monkeypatch.chdir(ROOT)
    cpu, long = load_protocol("cpu"), load_protocol("cpu-long")
    budget = ("train.steps", "train.batch_size", "train.lr")
    assert {k: v for k, v in cpu.items() if k not in budget} == {k: v for k, v in long.items() if k not in budget}
    # 4x the training images (at 128 px a training image costs the same time at batch 4 as at 16)
    assert long["train.steps"] * long["train.batch_size"] == 4 * cpu["train.steps"] * cpu["train.batch_size"]
    assert long["train.lr"] < cpu["train.lr"]  # the longer schedule peaks lower (docs/accuracy.md, section 4)


def test_the_paper_protocol_is_the_papers_resolution(raw, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert parse_params(apply(raw, load_protocol("paper") | MVTEC)).train.image_size == 256


@pytest.mark.parametrize("name", ["cpu", "cpu-long", "paper"])
def test_under_every_protocol_textures_keep_their_border_margin_and_objects_have_none(raw, name, monkeypatch):
    # a texture fills the frame, its edges have no quiet surroundings (docs/accuracy.md section 5);
    # the protocols' global `train.model.pad: 0` is meant for objects
    monkeypatch.chdir(ROOT)
    params = parse_params(apply(raw, load_protocol(name) | MVTEC | {"categories": ["carpet", "wood", "pill"]}))
    assert params.train.model.pad == 0
    assert [params.for_category(c).train.model.pad for c in ("carpet", "wood", "pill")] == [4, 4, 0]


def test_apply_sets_nested_keys_and_leaves_the_input_alone(raw):
    out = apply(raw, {"train.model.widths": [8, 16], "seed": 3})
    assert out["train"]["model"]["widths"] == [8, 16] and out["seed"] == 3
    assert raw["train"]["model"]["widths"] != [8, 16]


@pytest.mark.parametrize("key", ["train.epoch", "trian.epochs", "train.model.width", "seed.x"])
def test_a_mistyped_key_is_an_error_that_names_it(raw, key):
    with pytest.raises(ConfigError, match=f"{key}: no such params key"):
        apply(raw, {key: 1})


def test_an_unknown_protocol_lists_the_known_ones(monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(ConfigError, match=r"no such protocol \(known: \['cpu', 'cpu-long', 'paper'\]\)"):
        load_protocol("gpu")


def test_overrides_parse_like_dvc_and_come_back_as_flags():
    got = parse_overrides(["-S", "train.epochs=3", "-S", "categories=[pill,screw]", "-S", "data.mvtec.directory=/a b"])
    assert got == {"train.epochs": 3, "categories": ["pill", "screw"], "data.mvtec.directory": "/a b"}
    assert command(got) == [
        "dvc",
        "exp",
        "run",
        "-S",
        "train.epochs=3",
        "-S",
        'categories=["pill","screw"]',
        "-S",
        "data.mvtec.directory=/a b",
    ]
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["-S", "novalue"])
    with pytest.raises(ConfigError, match="lone"):
        parse_overrides(["-S"])


def test_a_protocol_is_read_from_protocols_or_from_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert load_protocol("cpu") == yaml.safe_load((ROOT / PROTOCOLS / "cpu.yaml").read_text())
    mine = tmp_path / "mine.yaml"
    mine.write_text("train.epochs: 7\nseed: 2\n")
    assert load_protocol(str(mine)) == {"train.epochs": 7, "seed": 2}
    mine.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="must map dotted params keys to values"):
        load_protocol(str(mine))
