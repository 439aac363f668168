"""Image-score rules re-computed from stored maps, compared pairwise."""

import numpy as np

from ssae.evaluation.rescore import rescore, table


def test_a_single_hot_pixel_misleads_the_maximum_but_not_the_top_k_mean():
    rng = np.random.default_rng(0)
    maps = rng.random((8, 10, 10)).astype(np.float32) * 0.1
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
    maps[labels, 2:5, 2:5] += 0.5  # defects: a 3x3 region of high error
    maps[~labels, 7, 7] = 2.0  # normal images: one hot pixel each
    auroc_max, auroc_topk = rescore(maps, labels, [0.0, 0.05])
    assert auroc_max == 0.0 and auroc_topk == 1.0


def test_the_table_gives_per_file_values_means_and_the_paired_difference():
    aurocs = np.array([[0.70, 0.75], [0.60, 0.66], [0.80, 0.83]])
    md = table(["a", "b", "c"], aurocs, [0.0, 0.01])
    assert "| a | 70.0 | 75.0 |" in md and "| **mean** | **70.0** | **74.7** |" in md
    assert "+4.7 (p = " in md and md.count("\n") == 7


def test_a_missing_file_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from ssae.evaluation.rescore import app

    result = CliRunner().invoke(app, [str(tmp_path / "none.npz")])
    assert result.exit_code == 2 and "no score file" in result.output
