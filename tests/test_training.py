"""The training loop: determinism, resume after a kill, noise modes, schedules, SSIM."""

import numpy as np
import pytest
import torch

from ssae.core.config import MasksConfig, ModelConfig, TrainConfig
from ssae.method.corruption_masks import mask_bank
from ssae.method.training import loss_fn, make_schedule, ssim, train

CPU = torch.device("cpu")
TINY = ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1,))


@pytest.fixture(scope="module")
def data():
    images = np.random.default_rng(0).random((4, 3, 16, 16)).astype(np.float32)
    return images, mask_bank(4, 16, MasksConfig(per_image=1), 0, "x")


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"image_size": 16, "epochs": 3, "batch_size": 2, "model": TINY, **kw})


def weights(model) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def test_training_is_deterministic_and_reports_every_epoch(data):
    runs = []
    for _ in range(2):
        seen = []
        model, losses = train(
            *data, cfg(), 0, CPU, lambda e, loss, snap, seen=seen: seen.append((e, loss)), policy="flip_rot"
        )
        runs.append((losses, weights(model)))
        assert seen == list(enumerate(losses)) and len(losses) == 3
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


class Killed(Exception):
    pass


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_a_killed_run_resumes_bit_identically(data, schedule):
    c = cfg(schedule=schedule)
    full, full_losses = train(*data, c, 0, CPU, policy="flip")
    saved = {}

    def kill_after_epoch_1(epoch, loss, snapshot):
        saved.update(snapshot())
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        train(*data, c, 0, CPU, kill_after_epoch_1, policy="flip")
    assert saved["epochs_done"] == 2 and len(saved["losses"]) == 2
    new_epochs = []
    resumed, losses = train(*data, c, 0, CPU, lambda e, loss, s: new_epochs.append(e), policy="flip", resume=saved)
    assert new_epochs == [2]  # only the missing epoch ran
    assert losses == full_losses
    assert all(torch.equal(a, b) for a, b in zip(weights(full), weights(resumed)))


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_schedules_warm_up_and_end_where_they_should(schedule):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_schedule(opt, TrainConfig(lr=1.0, schedule=schedule, warmup=0.2), 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < 0.1 and max(lrs) == pytest.approx(1.0, abs=0.02)
    assert int(np.argmax(lrs)) in range(17, 23)  # peak after the warm-up
    assert lrs[-1] < 0.01 if schedule != "constant" else lrs[-1] == 1.0


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    x = torch.rand(2, 3, 32, 32)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert ssim(x, noisy).item() < 0.9


def test_the_ssim_term_is_weighted_into_the_loss_and_reaches_training(data):
    x = torch.rand(2, 3, 32, 32)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    zero = torch.zeros(2, 1, 32, 32)
    l2 = loss_fn(noisy, x, zero, 0.0, 0.0)
    assert loss_fn(noisy, x, zero, 0.0, 0.5).item() == pytest.approx((l2 + 0.5 * (1 - ssim(noisy, x))).item(), rel=1e-6)
    # same data, init and batches: train.ssim_weight adds (1 - SSIM) ~ 1 to an L2 loss ~ 0.1
    _, plain = train(*data, cfg(epochs=1), 0, CPU)
    _, with_ssim = train(*data, cfg(epochs=1, ssim_weight=1.0), 0, CPU)
    assert with_ssim[0] > plain[0] + 0.1


def test_ema_saves_an_average_that_differs_from_the_last_weights_and_resumes_bit_identically(data):
    c = cfg(ema=0.9)
    plain, _ = train(*data, cfg(), 0, CPU, policy="none")
    averaged, losses = train(*data, c, 0, CPU, policy="none")
    # the same optimisation (identical losses), but the saved weights are the average
    assert losses == train(*data, cfg(), 0, CPU, policy="none")[1]
    assert not all(torch.equal(a, b) for a, b in zip(weights(plain), weights(averaged)))
    saved = {}

    def kill_after_epoch_0(epoch, loss, snapshot):
        saved.update(snapshot())
        if epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        train(*data, c, 0, CPU, kill_after_epoch_0, policy="none")
    assert "ema" in saved
    resumed, _ = train(*data, c, 0, CPU, policy="none", resume=saved)
    assert all(torch.equal(a, b) for a, b in zip(weights(averaged), weights(resumed)))


def test_crops_train_on_crop_sized_batches_from_seeded_corners(data):
    from ssae.method.corruption import cropped, plan_batch, plan_crops

    c = cfg(crop=8)
    p1 = plan_crops(plan_batch(np.arange(4), 4, 4, c, 0, 0, "none"), 16, 8, 0, 0)
    p2 = plan_crops(plan_batch(np.arange(4), 4, 4, c, 0, 0, "none"), 16, 8, 0, 0)
    assert p1.crop.shape == (4, 2) and np.array_equal(p1.crop, p2.crop)
    assert (p1.crop >= 0).all() and (p1.crop <= 8).all() and len({tuple(x) for x in p1.crop}) > 1
    t = torch.arange(4 * 16 * 16, dtype=torch.float32).reshape(4, 1, 16, 16)
    out = cropped(t, p1.crop, 8)
    y, x = p1.crop[2]
    assert out.shape == (4, 1, 8, 8) and torch.equal(out[2, 0], t[2, 0, y : y + 8, x : x + 8])
    model, losses = train(*data, c, 0, CPU, policy="none")
    assert len(losses) == 3 and np.isfinite(losses).all()
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)  # whole images at inference


@pytest.mark.parametrize(
    "n_images, batch, steps, epochs",
    [(240, 16, 900, 60), (352, 16, 900, 41), (60, 16, 900, 225), (5, 16, 3, 3), (240, 16, 0, 7)],
)
def test_a_steps_budget_trains_whole_epochs_up_to_at_least_that_many_steps(n_images, batch, steps, epochs):
    c = TrainConfig(epochs=7, batch_size=batch, steps=steps)
    assert c.epochs_for(n_images) == epochs
    per_epoch = -(-n_images // batch)
    if steps:  # the fewest whole epochs that reach the budget
        assert epochs * per_epoch >= steps > (epochs - 1) * per_epoch


def test_training_runs_the_epochs_of_its_steps_budget(data):
    seen = []
    _, losses = train(*data, cfg(epochs=1, steps=5), 0, CPU, lambda e, loss, snap: seen.append(e))
    assert len(losses) == 3 and seen == [0, 1, 2]  # 4 images in batches of 2: 3 epochs of 2 steps reach 5
