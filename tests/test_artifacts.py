import os
import stat
import time
import zipfile

import numpy as np
import pytest
import torch

from ssae.core.artifacts import atomic_write, load_npz, pack_masks, save_json, save_npz, save_state_dict, unpack_masks


def test_npz_round_trip_and_same_bytes_later(tmp_path, monkeypatch):
    arrays = dict(a=np.arange(6, dtype=np.float16).reshape(2, 3), names=np.array(["x/1.png", "y/2.png"]))
    save_npz(tmp_path / "a.npz", **arrays)
    later = time.time() + 3 * 3600  # the clock of a save hours later (zip stores 2-s resolution)
    monkeypatch.setattr(time, "time", lambda: later)
    save_npz(tmp_path / "b.npz", **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "b.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}  # no date stored
    back = load_npz(tmp_path / "a.npz")
    assert back["a"].dtype == np.float16 and np.array_equal(back["a"], arrays["a"])
    assert back["names"].tolist() == ["x/1.png", "y/2.png"]


def test_state_dict_bytes_do_not_depend_on_the_file_name(tmp_path):
    sd = {"w": torch.arange(4.0)}
    save_state_dict(tmp_path / "one.pt", sd)
    save_state_dict(tmp_path / "two.pt", sd)
    assert (tmp_path / "one.pt").read_bytes() == (tmp_path / "two.pt").read_bytes()
    assert torch.equal(torch.load(tmp_path / "one.pt", weights_only=True)["w"], sd["w"])


def test_masks_pack_losslessly():
    m = np.random.default_rng(0).random((3, 5, 13)) < 0.5
    packed = pack_masks(m)
    assert packed["bits"].nbytes < m.size // 4
    assert np.array_equal(unpack_masks(**packed), m)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "metrics.json"
    save_json(target, {"a": 1})
    before = target.read_bytes()
    with pytest.raises(TypeError):
        atomic_write(target, None)  # fails after the temporary file was opened
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


def test_artifacts_get_the_umask_mode_not_the_private_temp_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        save_json(tmp_path / "m.json", {"a": 1})
        assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)
