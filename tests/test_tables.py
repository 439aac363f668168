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
