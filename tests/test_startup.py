"""The stages' shared start: params, set-up and the category's table, or one error line and exit 2."""

from pathlib import Path

import pytest
import typer

from conftest import write_fake_category
from ssae.startup import start

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_start_returns_params_table_and_what_setup_returned(workdir):
    write_fake_category(workdir / "data" / "raw" / "brick")
    params, table, done = start("brick", lambda p: p.seed + 1)
    assert done == params.seed + 1 and (table.split == "train").sum() == 4


def test_start_fails_in_one_line(workdir, capsys):
    with pytest.raises(typer.Exit) as e:
        start("brick")  # no data/raw/brick
    assert e.value.exit_code == 2 and "brick: missing folder" in error_line(capsys)

    def no_gpu(params):
        raise RuntimeError("train.device: cuda was requested but torch sees no CUDA device")

    with pytest.raises(typer.Exit):
        start("brick", no_gpu)
    assert error_line(capsys) == "error: train.device: cuda was requested but torch sees no CUDA device"
    with pytest.raises(typer.Exit):
        start("screw")
    assert "'screw' is not in params.yaml categories" in error_line(capsys)
