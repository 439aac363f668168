"""Anomaly maps and image scores."""

import numpy as np
import pytest

from ssae.method.anomaly_maps import anomaly_maps, image_scores, pixel_spread


@pytest.fixture
def pair():
    images = np.zeros((2, 3, 8, 8), np.float32)
    recon = images.copy()
    recon[0, :, 2, 3] = [0.3, 0.6, 0.9]  # one wrong pixel: squared errors 0.09, 0.36, 0.81
    return images, recon


def test_an_anomaly_map_is_the_channel_mean_of_the_squared_error(pair):
    maps = anomaly_maps(*pair, sigma=0)
    assert maps.shape == (2, 8, 8) and maps.dtype == np.float32
    assert maps[0, 2, 3] == pytest.approx(0.42) and maps[0].sum() == pytest.approx(0.42)
    assert not maps[1].any()


def test_smoothing_spreads_the_error_around_its_pixel_and_keeps_its_mass(pair):
    maps = anomaly_maps(*pair, sigma=1.0)
    assert maps.dtype == np.float32 and maps[0].sum() == pytest.approx(0.42, rel=1e-4)
    assert np.unravel_index(maps[0].argmax(), (8, 8)) == (2, 3) and maps[0].max() < 0.42 / 4
    assert (maps[0] > 0).sum() > 9 and not maps[1].any()


def test_an_image_score_is_the_maximum_of_its_map():
    maps = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    maps[2, 4, 5] = 7.0
    scores = image_scores(maps)
    assert scores.shape == (4,) and scores[2] == 7.0
    assert np.array_equal(scores, maps.max(axis=(1, 2)))


def test_a_topk_image_score_is_the_mean_of_the_highest_pixels():
    maps = np.random.default_rng(0).random((3, 10, 10)).astype(np.float32)
    maps[1, 0, :5] = 5.0  # five pixels of 100: topk 0.05 averages exactly them
    scores = image_scores(maps, topk=0.05)
    assert scores.shape == (3,) and scores.dtype == np.float32 and scores[1] == pytest.approx(5.0)
    assert np.allclose(scores, np.sort(maps.reshape(3, -1), axis=1)[:, -5:].mean(axis=1))
    assert np.array_equal(image_scores(maps, topk=0.001), maps.max(axis=(1, 2)))  # less than a pixel: the max


def test_msgms_sees_structure_not_brightness():
    rng = np.random.default_rng(0)
    images = rng.random((1, 3, 32, 32), dtype=np.float32) * 0.5
    assert not anomaly_maps(images, images, sigma=0, kind="msgms").any()
    brighter = anomaly_maps(images, images + 0.3, sigma=0, kind="msgms")  # same gradients
    assert brighter.max() < 1e-5
    recon = images.copy()
    recon[0, :, 10:20, 10:20] = recon[0, :, 10:20, 10:20].mean()  # a region whose detail is gone
    maps = anomaly_maps(images, recon, sigma=0, kind="msgms")
    assert maps.dtype == np.float32 and 0 <= maps.min() and maps.max() <= 1
    assert maps[0, 12:18, 12:18].mean() > 10 * maps[0, :5, :5].mean()


def test_an_unknown_map_is_an_error(pair):
    with pytest.raises(ValueError, match="unknown anomaly map 'l1'"):
        anomaly_maps(*pair, sigma=0, kind="l1")


def test_pixel_spread_is_each_pixels_std_over_the_images_plus_a_floor():
    maps = np.random.default_rng(0).random((5, 4, 6)).astype(np.float32)
    maps[:, 0, 0] = 0.25  # a pixel that never varies: only the floor
    spread = pixel_spread(maps, floor=0.1)
    overall = maps.astype(np.float64).std()
    assert spread.shape == (4, 6) and spread.dtype == np.float32
    assert np.allclose(spread, maps.std(axis=0) + 0.1 * overall, rtol=1e-5)
    assert spread[0, 0] == pytest.approx(0.1 * overall, rel=1e-5)


@pytest.mark.parametrize(
    "maps, message",
    [
        (np.ones((1, 4, 4), np.float32), "at least 2 normal images, got 1"),
        (np.ones((3, 4, 4), np.float32), "all equal"),
    ],
)
def test_pixel_spread_refuses_too_few_or_identical_maps(maps, message):
    with pytest.raises(ValueError, match=message):
        pixel_spread(maps, floor=0.1)


def test_a_score_with_a_spread_ranks_an_error_where_normal_images_agree_first():
    spread = np.ones((8, 8), np.float32)
    spread[0, :] = 10.0  # the first row varies a lot on normal images
    maps = np.zeros((2, 8, 8), np.float32)
    maps[0, 0, 3] = 1.0  # a large error where normal images differ
    maps[1, 5, 5] = 0.5  # half of it where they agree
    assert image_scores(maps)[0] > image_scores(maps)[1]
    divided = image_scores(maps, spread=spread)
    assert divided[1] > divided[0] and np.array_equal(divided, image_scores(maps / spread))
    assert np.allclose(image_scores(maps, 0.05, spread), image_scores(maps / spread, 0.05))
