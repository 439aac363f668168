import numpy as np
import pytest

from ssae.evaluation.references import DRAEM_PIXEL_AUROC
from ssae.evaluation.tables import markdown_table, reference_table, results_table

ROW = dict(image_auroc=0.9, pixel_auroc=0.8, aupro=0.7, image_f1_max=0.6, pixel_ap=0.5)


def test_mvtec_table_has_group_means_and_reference_column():
    rows = {"carpet": ROW, "grid": {k: v / 2 for k, v in ROW.items()}, "bottle": {k: 0.1 for k in ROW}}
    t = results_table(rows, "mvtec_ad")
    assert list(t.index) == ["carpet", "grid", "bottle", "texture mean", "object mean", "mean"]
    assert t.loc["texture mean", "image_auroc"] == pytest.approx(0.675)
    assert t.loc["object mean", "image_auroc"] == pytest.approx(0.1)
    assert t.loc["mean", "image_auroc"] == pytest.approx((0.9 + 0.45 + 0.1) / 3)  # over categories
    assert t.loc["carpet", "DRAEM pixel AUROC"] == DRAEM_PIXEL_AUROC["carpet"]
    md = markdown_table(t)
    assert "| texture mean | 67.5 |" in md and "DRAEM pixel AUROC" in md


def test_embedded_table_has_only_the_mean_row():
    t = results_table({"brick": ROW, "grass": ROW}, "embedded")
    assert list(t.index) == ["brick", "grass", "mean"]
    assert "DRAEM pixel AUROC" not in t.columns


def test_reference_table_marks_missing_numbers():
    t = reference_table()
    assert t.loc["paper (Bauer et al. 2024)", "image_auroc"] == 0.998
    assert np.isnan(t.loc["paper (Bauer et al. 2024)", "aupro"])
    assert "| paper (Bauer et al. 2024) | 99.8 | 99.2 | – |" in markdown_table(t, "method")


def test_one_cell_format_for_every_table():
    from ssae.evaluation.tables import markdown, mean_std_pct, pct

    assert [pct(0.91234), pct(None), pct(float("nan"))] == ["91.2", "–", "–"]
    assert mean_std_pct([0.9, 0.8]) == "85.0 ± 7.1" and mean_std_pct([0.5]) == "50.0"
    assert markdown(["a", "b", "c"], [["x", "y", "1"]], left=2) == "| a | b | c |\n|---|---|---:|\n| x | y | 1 |\n"


def test_seed_study_tables_show_mean_std_and_welch_marks():
    from ssae.experiments.seed_study import compare_table, seed_table

    def record(name, values):
        metrics = lambda v: {k: v for k in ("image_auroc", "pixel_auroc", "aupro")}  # noqa: E731 -- a local shorthand
        runs = {str(s): {"mean": metrics(v), "categories": {"brick": metrics(v - 0.1)}} for s, v in enumerate(values)}
        return {"name": name, "overrides": [] if name == "base" else ["train.noise=none"], "seeds": runs}

    base, worse = record("base", [0.90, 0.91, 0.92]), record("plain", [0.50, 0.51, 0.52])
    lines = compare_table([base, worse]).splitlines()
    assert lines[2].startswith("| base | — | 3 | 91.0 ± 1.0 |") and lines[2].endswith("| — | — | — |")
    assert lines[3].startswith("| plain | `train.noise=none` | 3 | 51.0 ± 1.0 |") and "-40.0*" in lines[3]
    assert seed_table(base).splitlines()[2:] == [
        "| brick" + " | 81.0 ± 1.0" * 3 + " |",
        "| **mean**" + " | 91.0 ± 1.0" * 3 + " |",
    ]


def test_seed_study_compare_table_shows_image_only_records():
    """A dataset without masks has no pixel metrics (None): its cells are "—", not an error."""
    from ssae.experiments.seed_study import compare_table

    def record(name, values):
        runs = {str(s): {"mean": {"image_auroc": v, "pixel_auroc": None, "aupro": None}} for s, v in enumerate(values)}
        return {"name": name, "overrides": [], "seeds": runs}

    lines = compare_table([record("a", [0.90, 0.92]), record("b", [0.80])]).splitlines()
    assert lines[2] == "| a | — | 2 | 91.0 ± 1.4 | — | — | — | — | — |"
    assert lines[3] == "| b | — | 1 | 80.0 | — | — | -11.0 | — | — |"
