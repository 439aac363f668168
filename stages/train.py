"""Stage `train`: train one category's SDC-CCM autoencoder and calibrate its threshold; a killed
run resumes.

Writes data/models/<category>/model.pt, meta.json (``ssae.method.checkpoint``: the checkpoint explains
itself) and calibration.json, and the per-epoch loss through DVCLive to reports/train/<category>/.

Calibration (``ssae.method.calibration``): train.holdout of the normal training images (seeded by seed
and category) are not trained on; after training they are scored with the anomaly map of
score.map, score.sigma and score.image_topk, and the threshold is the train.threshold_quantile quantile of their
scores. This stage reads train/good only: the test set never sets the threshold. With
score.spread: pixel the image score is taken from the map divided by each pixel's spread over
the trained images (``anomaly_maps.pixel_spread``), saved beside calibration.json.

Resuming: after every epoch the full training state goes to data/checkpoints/<category>.pt,
which is not a DVC output (DVC deletes outputs before it runs a stage). The state carries a
key (``checkpoint.run_key``): the SHA-256 of the training config, seed, category, augmentation
and the exact training images and masks. A re-run with the same key continues after the last
finished epoch (and replays the earlier losses into DVCLive), bit-identical on CPU to an
uninterrupted run; any other key starts over. The checkpoint is deleted once the outputs are written.
"""

from __future__ import annotations


import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_category, stage_help

app = typer.Typer(add_completion=False)


@app.command(
    help=stage_help(
        "Train one category's SDC-CCM autoencoder on its normal images (less train.holdout of them) and "
        "calibrate its threshold on the held-out ones; a killed run resumes from "
        f"{paths.checkpoint_file(C)}.",
        f"{paths.raw_category(C)}/train/good/, {paths.masks_file(C)}; {paths.PARAMS}: seed, train, score.map, "
        "score.sigma, score.image_topk, score.spread(_floor), runtime and overrides.<category>.train / .score.",
        f"{paths.model_weights(C)}, {paths.model_meta(C)} (the full training config), "
        f"{paths.model_calibration(C)} (threshold) [and {paths.SPREAD}], "
        f"{paths.train_log_dir(C)}/ (DVCLive loss per epoch).",
        "python stages/train.py --category brick   (in the pipeline: dvc repro train@brick)",
    )
)
def main(
    category: str | None = typer.Option(
        None, help="Category to train (one of params.yaml categories; under dvc repro: the stage's)."
    ),
) -> None:
    from dvclive import Live  # imported here (torch, dvclive): --help stays fast

    from ssae.core import runtime
    from ssae.core.artifacts import load_npz, unpack_masks
    from ssae.method.augment import augment_policy
    from ssae.method.calibration import calibrate, holdout_split
    from ssae.method.checkpoint import load_state, run_key, save_calibration, save_model, save_state
    from ssae.startup import fail, start
    from ssae.data.dataset_format import load_images
    from ssae.method.anomaly_maps import anomaly_maps, image_scores, pixel_spread, reconstruct
    from ssae.method.training import train

    category = stage_category(category)
    params, table, device = start(
        category,
        lambda p: runtime.setup(p.seed, p.train.device, "train.device", p.runtime.reproducible, p.runtime.threads),
    )
    cfg = params.train
    normal = list(table[table.split == "train"].image)
    try:
        fit, held = holdout_split(len(normal), cfg.holdout, params.seed, category)
    except ValueError as e:
        raise fail(f"{paths.raw_category(category) / 'train' / 'good'}: {e}") from None
    images = load_images([normal[i] for i in fit], cfg.image_size)
    bank = unpack_masks(**load_npz(paths.masks_file(category)))
    if bank.shape[1:] != (cfg.image_size, cfg.image_size):
        raise fail(
            f"{paths.masks_file(category)} holds {bank.shape[1]}-px masks, train.image_size is "
            f"{cfg.image_size}: re-run the masks stage"
        )
    policy = augment_policy(cfg.augment, category)
    key = run_key(params.seed, category, policy, cfg, images, bank)
    resume = load_state(paths.checkpoint_file(category), key)

    with Live(str(paths.train_log_dir(category)), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for loss in (resume or {}).get("losses", []):  # DVC deleted the log: replay the finished epochs
            live.log_metric("train/loss", loss)
            live.next_step()

        def on_epoch(epoch: int, loss: float, snapshot) -> None:
            save_state(paths.checkpoint_file(category), key, snapshot())
            live.log_metric("train/loss", loss)
            live.next_step()

        model, losses = train(
            images, bank, cfg, params.seed, device, on_epoch, policy, resume, desc=f"train {category}"
        )

    save_model(
        model,
        paths.model_weights(category),
        paths.model_meta(category),
        category=category,
        seed=params.seed,
        cfg=cfg,
        policy=policy,
        device=device,
        n_train_images=len(images),
        losses=losses,
    )
    sc = params.score
    spread = None
    if sc.spread == "pixel":  # the spread of the map over the images it was trained on
        fit_maps = anomaly_maps(images, reconstruct(model, images, cfg.batch_size, device), sc.sigma, sc.map)
        try:
            spread = pixel_spread(fit_maps, sc.spread_floor)
        except ValueError as e:
            raise fail(f"score.spread: pixel: {e}") from None
        del fit_maps
    heldout = load_images([normal[i] for i in held], cfg.image_size)
    maps = anomaly_maps(heldout, reconstruct(model, heldout, cfg.batch_size, device), sc.sigma, sc.map)
    cal = calibrate(image_scores(maps, sc.image_topk, spread), cfg.threshold_quantile)
    save_calibration(
        paths.model_calibration(category),
        cal,
        map_kind=sc.map,
        sigma=sc.sigma,
        image_topk=sc.image_topk,
        heldout_images=[f"train/good/{normal[i].name}" for i in held],
        spread=spread,
        spread_floor=sc.spread_floor if spread is not None else None,
    )
    paths.checkpoint_file(category).unlink(missing_ok=True)
    print(
        f"{category}: trained on {len(images)} normal images; threshold {cal.threshold:.6g} = quantile "
        f"{cfg.threshold_quantile} of {len(held)} held-out normal images' scores"
    )


if __name__ == "__main__":
    app()
