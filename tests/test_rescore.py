"""Image-score rules re-computed from stored maps, compared pairwise."""

import numpy as np

from ssae.evaluation.rescore import rescore, rule, table


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
    md = table(["a", "b", "c"], aurocs, [rule(0.0), rule(0.01, 0.1)])
    assert md.startswith("| scores | maximum | top 1 % mean / spread (0.1) |")
    assert "| a | 70.0 | 75.0 |" in md and "| **mean** | **70.0** | **74.7** |" in md
    assert "+4.7 (p = " in md and md.count("\n") == 7


def test_a_missing_file_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from ssae.evaluation.rescore import app

    result = CliRunner().invoke(app, [str(tmp_path / "none.npz")])
    assert result.exit_code == 2 and "no score file" in result.output


def test_a_spread_turns_the_ranking_where_normal_images_differ():
    labels = np.array([0, 0, 1, 1], bool)
    maps = np.zeros((4, 6, 6), np.float32)
    maps[~labels, 0, :] = 1.0  # normal images: large error along the first row (an edge)
    maps[labels, 3, 3] = 0.5  # defects: a smaller error in the middle
    spread = np.full((6, 6), 0.1, np.float32)
    spread[0, :] = 10.0  # the first row varies a lot on normal images
    assert rescore(maps, labels, [0.0]) == [0.0]
    assert rescore(maps, labels, [0.0], spread) == [1.0]


def test_models_must_pair_with_the_files(tmp_path):
    from typer.testing import CliRunner

    from ssae.evaluation.rescore import app

    f = tmp_path / "a.npz"
    f.write_bytes(b"")
    result = CliRunner().invoke(app, [str(f), str(f), "--model", str(tmp_path), "--images", str(tmp_path)])
    assert result.exit_code == 2 and "one --model per score file (2, got 1)" in result.output
