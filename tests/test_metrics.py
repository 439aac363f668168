import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from ssae.evaluation import metrics

S = np.array([0.1, 0.4, 0.35, 0.8])
Y = np.array([0, 0, 1, 1])


def test_hand_computed_image_metrics():
    assert metrics.image_auroc(S, Y) == pytest.approx(0.75)
    assert metrics.average_precision(S, Y) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # thresholds 0.8, 0.4, 0.35, 0.1 give F1 2/3, 1/2, 4/5, 2/3
    assert metrics.f1_max(S, Y) == pytest.approx(0.8)


def test_ties_count_half():
    assert metrics.image_auroc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert metrics.image_auroc(np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.875)


def test_agrees_with_sklearn_on_random_tied_scores():
    rng = np.random.default_rng(0)
    s = np.round(rng.random(500), 2)  # many ties
    y = rng.random(500) < 0.3
    assert metrics.image_auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert metrics.average_precision(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_pixel_auroc_pools_all_pixels_including_normal_images():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 8, 8))
    masks = np.zeros((3, 8, 8), bool)
    masks[0, 2:5, 2:5] = True
    maps[0][masks[0]] += 0.5
    masks[2] = False  # an image with no defect
    assert metrics.pixel_auroc(maps, masks) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()))


def test_perfect_and_inverted_maps():
    masks = np.zeros((2, 6, 6), bool)
    masks[0, 1:3, 1:3] = True
    masks[1, 4:6, 0:5] = True
    perfect = masks.astype(float) + 0.01 * np.random.default_rng(0).random(masks.shape)
    assert metrics.pixel_auroc(perfect, masks) == 1.0
    assert metrics.aupro(perfect, masks) == pytest.approx(1.0)
    assert metrics.average_precision(perfect, masks) == pytest.approx(1.0)
    assert metrics.pixel_auroc(-perfect, masks) == 0.0
    assert metrics.aupro(-perfect, masks) == 0.0


def test_aupro_single_region_by_hand():
    # pixels sorted: 5 (defect), 4, 3 (normal), 2 (defect), 1, 0 (normal); 4 normal pixels
    maps = np.array([[[5.0, 2.0, 4.0, 3.0, 1.0, 0.0]]])
    masks = np.array([[[True, True, False, False, False, False]]])
    fpr, pro = metrics.pro_curve(maps, masks, fpr_limit=1.0)
    assert fpr.tolist() == [0, 0, 0.25, 0.5, 0.5, 0.75, 1.0]
    assert pro.tolist() == [0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0]
    # 0.25 * 0.5 + 0.05 * 0.5 (interpolated at 0.3), divided by 0.3
    assert metrics.aupro(maps, masks) == pytest.approx(0.15 / 0.3)


def test_aupro_weights_regions_equally_whatever_their_size():
    # region A: 1 px, fully found first; region B: 3 px, 1 found at score 1, the rest at 0.2
    maps = np.array([[[9.0, 0.0, 0.0, 0.0]], [[1.0, 0.2, 0.2, 0.5]]])
    masks = np.array([[[1, 0, 0, 0]], [[1, 1, 1, 0]]], bool)
    # curve: (0, .5), (0, 2/3), (.25, 2/3), (.25, 1): area to .3 = .25 * 2/3 + .05 * 1
    assert metrics.aupro(maps, masks) == pytest.approx((0.25 * 2 / 3 + 0.05) / 0.3)


def test_aupro_uses_8_connectivity():
    masks = np.zeros((1, 4, 4), bool)
    masks[0, 0, 0] = masks[0, 1, 1] = masks[0, 1, 2] = True  # one region only if diagonals connect
    maps = np.zeros((1, 4, 4))
    maps[0, 0, 0] = 1.0
    fpr, pro = metrics.pro_curve(maps, masks)
    # 8-connected: one 3-px region, 1/3 covered; 4-connected would give (1 + 0) / 2
    assert pro[1] == pytest.approx(1 / 3)


def reference_aupro(maps, masks, limit=0.3):
    """A straightforward threshold loop over every distinct score (slow, obvious)."""
    regions = []
    for i, m in enumerate(masks):
        lab, n = ndimage.label(m, structure=np.ones((3, 3)))
        regions += [(i, lab == k) for k in range(1, n + 1)]
    neg = ~masks
    xs, ys = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        above = maps >= t
        xs.append((above & neg).sum() / neg.sum())
        ys.append(np.mean([above[i][r].mean() for i, r in regions]))
    xs, ys = np.array(xs), np.array(ys)
    return metrics._trapezoid_to(xs, ys, limit) / limit


def test_aupro_matches_a_straightforward_implementation():
    rng = np.random.default_rng(2)
    masks = np.zeros((4, 16, 16), bool)
    masks[0, 2:6, 3:9] = True
    masks[1, 10:12, 10:15] = True
    masks[1, 0:2, 0:2] = True
    masks[2, 5, 5] = True
    maps = np.round(rng.random(masks.shape) + masks * rng.random(masks.shape), 2)  # ties
    for limit in (0.05, 0.3, 1.0):
        assert metrics.aupro(maps, masks, limit) == pytest.approx(reference_aupro(maps, masks, limit), abs=1e-12)


def test_invariant_to_strictly_increasing_transforms():
    rng = np.random.default_rng(3)
    masks = np.zeros((3, 10, 10), bool)
    masks[0, 2:5, 2:6] = True
    masks[1, 6:9, 1:3] = True
    maps = rng.random(masks.shape) + 0.3 * masks
    scores, labels = maps.max(axis=(1, 2)), masks.any(axis=(1, 2))
    g = lambda x: np.exp(3 * x) + x**3  # noqa: E731
    for f in (metrics.pixel_auroc, metrics.aupro, metrics.average_precision):
        assert f(g(maps), masks) == pytest.approx(f(maps, masks), abs=1e-12)
    for f in (metrics.image_auroc, metrics.f1_max, metrics.average_precision):
        assert f(g(scores), labels) == pytest.approx(f(scores, labels), abs=1e-12)


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError, match="both positive and negative"):
        metrics.image_auroc(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="differ in size"):
        metrics.image_auroc(np.array([0.1, 0.2]), np.array([1]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.image_auroc(np.array([np.nan, 0.2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.pixel_auroc(np.zeros((1, 2, 2)), np.zeros((1, 2, 3), bool))


def test_evaluate_shares_work_but_matches_the_single_metrics():
    rng = np.random.default_rng(4)
    masks = np.zeros((5, 12, 12), bool)
    masks[1, 2:7, 3:5] = True
    masks[3, 8:11, 8:11] = True
    masks[4, 0, 0] = True
    maps = np.round(rng.random(masks.shape) + 0.4 * masks, 3)
    scores, labels = maps.max(axis=(1, 2)), masks.any(axis=(1, 2))
    got, (fpr, pro) = metrics.evaluate(scores, labels, maps, masks, fpr_limit=0.3)
    ref_fpr, ref_pro = metrics.pro_curve(maps, masks, 0.3)
    assert np.array_equal(fpr, ref_fpr) and np.array_equal(pro, ref_pro)
    assert got == {
        "image_auroc": metrics.image_auroc(scores, labels),
        "pixel_auroc": metrics.pixel_auroc(maps, masks),
        "aupro": metrics.aupro(maps, masks, 0.3),
        "image_f1_max": metrics.f1_max(scores, labels),
        "pixel_ap": metrics.pixel_ap(maps, masks),
    }
    assert got["pixel_ap"] == pytest.approx(average_precision_score(masks.ravel(), maps.ravel()), abs=1e-12)
    assert got["pixel_auroc"] == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)


def test_resample_curve_keeps_the_upper_step():
    x = np.array([0.0, 0.0, 0.1, 0.1, 0.5])
    y = np.array([0.0, 0.4, 0.4, 0.8, 1.0])
    gx, gy = metrics.resample_curve(x, y, upto=0.3, n=4)
    assert gx.tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert gy.tolist() == pytest.approx([0.4, 0.8, 0.85, 0.9])
