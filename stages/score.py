"""Stage `score`: anomaly maps of one category's test set.

Writes data/scores/<category>.npz (float16 maps at model resolution, float32 image scores,
labels, defect types, file names, bit-packed ground-truth masks at their own resolution) and
reports/figures/gallery_<category>.png (input | reconstruction | anomaly map | ground truth
of the highest- and lowest-scored images of every defect type).
"""

from __future__ import annotations

import typer

from ssae import paths
from ssae.cli import CATEGORY as C, stage_help

app = typer.Typer(add_completion=False)


@app.command(help=stage_help(
    "Score one category's test images: reconstruction, anomaly map (score.map, smoothed by score.sigma) "
    "and image score (the map's maximum), and draw the gallery.",
    f"{paths.raw_category(C)}/test/ and ground_truth/, {paths.model_dir(C)}/; {paths.PARAMS}: score and "
    "overrides.<category>.score.",
    f"{paths.scores_file(C)} (maps, scores, labels, masks), {paths.gallery_png(C)}.",
    "python stages/score.py --category brick   (in the pipeline: dvc repro score@brick)"))
def main(category: str = typer.Option(..., help="Category to score (one of params.yaml categories).")) -> None:
    import numpy as np  # imported here (torch): --help stays fast

    from ssae import runtime
    from ssae.checkpoint import load_model
    from ssae.cli import fail, start
    from ssae.figures import gallery
    from ssae.layout import DatasetError, image_shape, load_images, load_mask
    from ssae.score_file import save_scores
    from ssae.scoring import anomaly_maps, image_scores, reconstruct

    params, table, device = start(category, lambda p: runtime.setup(device=p.score.device, key="score.device"))
    test = table[table.split == "test"].reset_index(drop=True)
    model, size = load_model(paths.model_weights(category), paths.model_meta(category), device)
    images = load_images(list(test.image), size)
    recon = reconstruct(model, images, params.score.batch_size, device)
    maps = anomaly_maps(images, recon, params.score.sigma, params.score.map)
    scores = image_scores(maps)
    shape = image_shape(test.image[0])
    try:
        gt = np.stack([load_mask(m, shape) for m in test["mask"]])
    except DatasetError as e:
        raise fail(str(e)) from None
    save_scores(paths.scores_file(category), maps=maps, scores=scores, labels=test.label.to_numpy(np.uint8),
                defects=test.defect.to_numpy(str), names=np.array([f"{d}/{p.name}" for d, p in zip(test.defect, test.image)]),
                gt=gt)
    picks, captions = [], []
    for defect, group in test.assign(score=scores).groupby("defect", sort=True):
        ranked = group.sort_values("score", ascending=False).index
        k = params.score.gallery_per_type
        for rank, i in [("highest", j) for j in ranked[:k]] + [("lowest", j) for j in ranked[k:][-k:]]:
            picks.append(i)
            captions.append(f"{defect}\n{test.image[i].name}\n{rank} score\n{scores[i]:.4f}")
    gallery(images[picks], recon[picks], maps[picks], gt[picks], captions, paths.gallery_png(category),
            title=f"{category}: highest- and lowest-scored image of each defect type")
    print(f"{category}: {len(test)} test images scored at {size} px")


if __name__ == "__main__":
    app()
