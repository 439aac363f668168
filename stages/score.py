"""Stage `score`: anomaly maps of one category's test set.

Writes data/scores/<category>.npz (float16 maps at model resolution, float32 image scores,
labels, defect types, file names, bit-packed ground-truth masks, which images have known ground
truth, and the model's calibrated threshold) and reports/figures/gallery_<category>.png (input |
reconstruction | anomaly map | ground truth of the highest- and lowest-scored images of every
defect type).

The anomaly map (kind and smoothing), the threshold and, with score.spread: pixel, the spread
the image score is divided by are the model folder's (calibration.json, spread.npz), fixed when
the model was trained. Ground truth is stored at the test images' resolution when they all
share one, else at the model's (masks resized, nearest).
A defect image without a mask has unknown ground truth (``known`` False): pixel metrics skip it.
"""

from __future__ import annotations


import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_category, stage_help

app = typer.Typer(add_completion=False)


@app.command(
    help=stage_help(
        "Score one category's test images: reconstruction, anomaly map (the model folder's score.map and "
        "score.sigma, fixed at training) and image score (the map's maximum, or its top-k mean: "
        "score.image_topk), and draw the gallery.",
        f"{paths.raw_category(C)}/test/ and ground_truth/, {paths.model_dir(C)}/; {paths.PARAMS}: score.batch_size, "
        "score.gallery_per_type, score.device, runtime and overrides.<category>.score.",
        f"{paths.scores_file(C)} (maps, scores, labels, masks, threshold), {paths.gallery_png(C)}.",
        "python stages/score.py --category brick   (in the pipeline: dvc repro score@brick)",
    )
)
def main(
    category: str | None = typer.Option(
        None, help="Category to score (one of params.yaml categories; under dvc repro: the stage's)."
    ),
) -> None:
    import numpy as np  # imported here (torch): --help stays fast

    from ssae.core import runtime
    from ssae.method.checkpoint import ModelError, load_calibration, load_image_topk, load_model, load_spread
    from ssae.startup import fail, start
    from ssae.evaluation.figures import gallery
    from ssae.data.dataset_format import DatasetError, load_images, load_masks
    from ssae.evaluation.score_file import save_scores
    from ssae.method.anomaly_maps import anomaly_maps, image_scores, reconstruct

    category = stage_category(category)
    params, table, device = start(
        category, lambda p: runtime.setup(0, p.score.device, "score.device", p.runtime.reproducible, p.runtime.threads)
    )
    test = table[table.split == "test"].reset_index(drop=True)
    model, size = load_model(paths.model_weights(category), paths.model_meta(category), device)
    cal, map_kind, sigma = load_calibration(paths.model_calibration(category))
    images = load_images(list(test.image), size)
    recon = reconstruct(model, images, params.score.batch_size, device)
    maps = anomaly_maps(images, recon, sigma, map_kind)
    try:
        spread = load_spread(paths.model_calibration(category), size)
    except ModelError as e:
        raise fail(str(e)) from None
    scores = image_scores(maps, load_image_topk(paths.model_calibration(category)), spread)
    try:
        gt = load_masks(list(test.image), list(test["mask"]), size)
    except DatasetError as e:
        raise fail(str(e)) from None
    known = (test.label == 0).to_numpy() | test["mask"].notna().to_numpy()
    save_scores(
        paths.scores_file(category),
        maps=maps,
        scores=scores,
        labels=test.label.to_numpy(np.uint8),
        defects=test.defect.to_numpy(str),
        names=np.array([f"{d}/{p.name}" for d, p in zip(test.defect, test.image)]),
        gt=gt,
        known=known,
        threshold=cal.threshold,
    )
    picks, captions = [], []
    for defect, group in test.assign(score=scores).groupby("defect", sort=True):
        ranked = group.sort_values("score", ascending=False).index
        k = params.score.gallery_per_type
        for rank, i in [("highest", j) for j in ranked[:k]] + [("lowest", j) for j in ranked[k:][-k:]]:
            picks.append(i)
            captions.append(f"{defect}\n{test.image[i].name}\n{rank} score\n{scores[i]:.4f}")
    gallery(
        images[picks],
        recon[picks],
        maps[picks],
        gt[picks],
        captions,
        paths.gallery_png(category),
        title=f"{category}: highest- and lowest-scored image of each defect type",
    )
    flagged = int(cal.decide(scores).sum())
    print(f"{category}: {len(test)} test images scored at {size} px; {flagged} above the threshold {cal.threshold:.6g}")


if __name__ == "__main__":
    app()
