"""Bootstrap intervals: a replicate equals the exact metrics of the resampled test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from ssae.evaluation import bootstrap as bs
from ssae.evaluation.metrics import evaluate
from ssae.evaluation.tables import interval_table, markdown_table, results_table


@pytest.fixture(scope="module")
def test_set():
    """20 normal and 30 defective 64-px images, blob defects slightly brighter in the maps."""
    rng = np.random.default_rng(0)
    n, size = 50, 64
    labels = np.r_[np.zeros(20, bool), np.ones(30, bool)]
    masks = np.zeros((n, size, size), bool)
    yy, xx = np.ogrid[:size, :size]
    for i in np.flatnonzero(labels):
        for _ in range(rng.integers(1, 4)):
            y, x, r = *rng.integers(8, size - 8, 2), rng.integers(2, 8)
            masks[i] |= (yy - y) ** 2 + (xx - x) ** 2 < r * r
    maps = ndimage.gaussian_filter(rng.random((n, size, size)), (0, 2, 2)) + 0.04 * masks * rng.random((n, 1, 1))
    maps = maps.astype(np.float32)
    return maps.reshape(n, -1).max(1), labels, maps, masks


def resampled_metrics(test_set, w: np.ndarray) -> dict[str, float]:
    """The exact metrics of the test set with image i repeated w[i] times."""
    scores, labels, maps, masks = test_set
    idx = np.repeat(np.arange(len(w)), w.astype(int))
    return evaluate(scores[idx], labels[idx], maps[idx], masks[idx], 0.3, threshold=float(np.median(scores)))[0]


def replicate(test_set, w: np.ndarray) -> dict[str, float]:
    scores, labels, maps, masks = test_set
    w = w[None, :]
    return {
        "image_auroc": bs.image_auroc(scores, labels, w)[0],
        "image_f1_max": bs.image_f1_max(scores, labels, w)[0],
        **{k: v[0] for k, v in bs.at_threshold(scores, labels, float(np.median(scores)), w).items()},
        **{k: v[0] for k, v in bs.pixel_metrics(bs.pixel_counts(maps, masks, 4096), w, 0.3).items()},
    }


def test_a_replicate_equals_the_exact_metrics_of_its_resample(test_set):
    labels = test_set[1]
    draws = bs.multiplicities(labels, 3, np.random.default_rng(1))
    for w in [np.ones(len(labels)), *draws]:
        want, got = resampled_metrics(test_set, w), replicate(test_set, w)
        assert got["image_auroc"] == pytest.approx(want["image_auroc"], abs=1e-12)  # exact
        for k in ("image_f1_max", "precision", "recall", "f1"):
            assert got[k] == pytest.approx(want[k], abs=1e-12), k
        for k in ("pixel_auroc", "aupro", "pixel_ap"):  # the threshold grid
            assert got[k] == pytest.approx(want[k], abs=2e-4), k


def test_resamples_keep_the_test_sets_composition(test_set):
    labels = test_set[1]
    w = bs.multiplicities(labels, 200, np.random.default_rng(0))
    assert w.shape == (200, len(labels)) and (w == np.round(w)).all() and (w >= 0).all()
    assert (w[:, labels].sum(1) == labels.sum()).all() and (w[:, ~labels].sum(1) == (~labels).sum()).all()
    assert len({tuple(r) for r in w}) == 200  # not one draw repeated


def test_replicates_depend_on_the_seed_only(test_set):
    a = bs.replicates(*test_set, n=200, seed=3, fpr_limit=0.3)
    b = bs.replicates(*test_set, n=200, seed=3, fpr_limit=0.3)
    c = bs.replicates(*test_set, n=200, seed=4, fpr_limit=0.3)
    assert set(a) == set(bs.METRICS) - {"precision", "recall", "f1"}  # no threshold given
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["image_auroc"], c["image_auroc"])
    exact = resampled_metrics(test_set, np.ones(len(test_set[1])))
    for k in a:  # a 95 % interval around the full test set's value, not a point
        lo, hi = bs.interval(a[k], 0.95)
        assert lo < exact[k] < hi or (k == "image_f1_max" and lo <= exact[k] <= hi), k
        assert hi - lo > 0.005, k


def test_only_the_metrics_the_data_supports(test_set):
    scores, labels, maps, masks = test_set
    known = np.zeros(len(labels), bool)  # no masks at all: image metrics only
    reps = bs.replicates(scores, labels, maps, masks, n=100, seed=0, fpr_limit=0.3, known=known, threshold=0.5)
    assert set(reps) == {"image_auroc", "image_f1_max", "precision", "recall", "f1"}
    good = ~labels  # a good-only test set: decisions only, recall and F1 undefined
    reps = bs.replicates(
        scores[good],
        labels[good],
        maps[good],
        masks[good],
        n=100,
        seed=0,
        fpr_limit=0.3,
        threshold=float(np.median(scores)),
    )
    assert set(reps) == {"precision", "recall", "f1"} and np.isnan(reps["recall"]).all()


def test_category_seeds_differ_per_category_and_are_stable():
    assert bs.category_seed(0, "brick") == bs.category_seed(0, "brick") != bs.category_seed(0, "grass")
    assert bs.category_seed(0, "brick") == 928041788  # zlib.crc32 of the name: no per-process hash salt


def test_interval_table_and_markdown_cells():
    reps = {"a": {"image_auroc": np.linspace(0.5, 0.7, 1001)}, "b": {"image_auroc": np.linspace(0.7, 0.9, 1001)}}
    ci = interval_table(reps, "embedded", 0.95)
    assert list(ci.index) == ["a", "b", "mean"]
    assert ci.loc["a", "image_auroc_low"] == pytest.approx(0.505) and ci.loc["a", "image_auroc_high"] == pytest.approx(
        0.695
    )
    # the mean's replicate b is the mean of the categories' replicates b: 0.6 ... 0.8
    assert ci.loc["mean", "image_auroc_low"] == pytest.approx(0.605)
    table = results_table({"a": {"image_auroc": 0.6}, "b": {"image_auroc": 0.8}}, "embedded").join(ci)
    md = markdown_table(table)
    assert "| a | 60.0 (50.5–69.5) |" in md and "| mean | 70.0 (60.5–79.5) |" in md
    assert "_low" not in md and "_high" not in md
    # a metric only one category has: the mean's interval is that category's
    ci = interval_table({"a": {"aupro": np.linspace(0.1, 0.3, 1001)}, "b": {}}, "embedded", 0.95)
    assert ci.loc["mean", "aupro_low"] == ci.loc["a", "aupro_low"] and np.isnan(ci.loc["b", "aupro_low"])
    # a metric undefined in one category (precision with nothing flagged): the mean is the others'
    ci = interval_table(
        {"a": {"precision": np.linspace(0.1, 0.3, 1001)}, "b": {"precision": np.full(1001, np.nan)}}, "embedded", 0.95
    )
    assert ci.loc["mean", "precision_low"] == pytest.approx(ci.loc["a", "precision_low"])
    assert markdown_table(pd.DataFrame({"image_auroc": [0.6]}, index=["a"])).splitlines()[2] == "| a | 60.0 |"
