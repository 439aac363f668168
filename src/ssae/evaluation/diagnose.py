"""Why a category's scores are what they are: detection per defect type, where the maxima of
the highest-scoring normal images sit, and whether a defect was copied by the model or repaired
but outranked; and whether the normal test images score like the normal training images. Reads a
score file (``ssae.evaluation.score_file``) and, with ``--model``, the model folder's
calibration.json (the held-out training images' scores), never the weights.

    python -m ssae.evaluation.diagnose data/scores/pill.npz --images data/raw/pill --model data/models/pill \
        --out reports/diagnosis/pill

Definitions (all on the stored maps, (N, S, S) at model resolution):
- best-F1 threshold: the image-score threshold with the highest F1 on the whole test set (the
  highest one among ties), as the float32 just below the lowest flagged score, so that
  "flagged" is ``score > threshold`` as for the calibrated one.
- top normals: the ``max(TOP_MIN, ceil(TOP_SHARE n))`` highest-scoring normal test images.
- a map maximum's position: its pixel centre / S as (y, x) in [0, 1]; border distance: pixels
  to the nearest image edge / S. With ``--images`` (loaded at S px as the model sees them):
  on the object = the pixel differs from the median colour of the image's outer ring
  (``max(1, S // 32)`` px wide) by more than ``FG_DIFF`` in some channel (crude: it fails on
  textures and on objects that touch the border); brightness = the percentile of the pixel's
  grey value (channel mean) in its image (100: the brightest pixel, e.g. a specular spot).
- a defect image with a known mask: its map is upsampled bilinearly to the mask
  (``ssae.data.resolution.upsample``); the region's error = mean and max of the map in the mask; the normal
  level = the ``NORMAL_PCT`` percentile of all normal test pixels. A region max above the
  normal level means the model changed the region, so a miss (``score <= threshold``) is the
  image score's ("scoring": repaired but outranked by normal maxima elsewhere); at or below
  it the reconstruction reproduced the defect ("model": repaired nothing). Counted among the
  misses at each threshold: with many more defective than normal test images the best F1 may
  flag (nearly) all, and the calibrated threshold's misses are the informative ones.
- the border: the mean map of the normal test images in each of the ``BORDER_RINGS`` outermost
  one-pixel rings, divided by its mean over the interior (farther than S/8 from every edge);
  and the share of each image's top 1 % of map pixels (the pixels ``score.image_topk: 0.01``
  averages) that lie within S/16 of an edge (S/16 of the side holds 23 % of the pixels). A
  ratio of several and a share near 1 mean the image score measures the border, not the image
  (``train.model.pad`` is the remedy).
- the shift (with ``--model``): the AUROC of the normal test images' scores against the held-out
  normal training images' scores, with the two-sided Mann-Whitney p-value. 50 %: they score
  alike, as they should; well above: the normal test images differ from the training images
  (new content, lighting, another camera), the calibrated threshold flags more of them than
  its quantile promises, and the test AUROC measures that difference too (for lighting,
  ``train.brightness`` is the remedy, and the report names it when p < 0.05); well below: the
  test images are easier than the training images, which flatters the test AUROC. With the
  default 10 % hold-out there are few held-out images: read the p-value.

Writes DIR/diagnosis.json (sorted keys, floats to 6 significant digits, no timestamps),
DIR/diagnosis.md (tables) and DIR/diagnosis.png (statistics only, no image pixels).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import typer
from scipy import stats

from ssae.data.dataset_format import load_images
from ssae.data.resolution import upsample
from ssae.evaluation.diagnosis_report import figure, to_json, to_markdown
from ssae.evaluation.figures import save_figure
from ssae.evaluation.metrics import roc_curve
from ssae.evaluation.score_file import load_scores
from ssae.method.checkpoint import ModelError, load_calibration

TOP_SHARE, TOP_MIN = 0.2, 5  # top normals: the top 20 %, at least 5
FG_DIFF = 0.1  # foreground: a channel differs from the border's median colour by more (in [0, 1])
BRIGHT_PCT = 95.0  # a maximum on a pixel at or above this brightness percentile is a "bright spot"
NORMAL_PCT = 99.0  # the normal level: this percentile of all normal test pixels of the maps
BORDER_RINGS = 8  # outermost one-pixel rings profiled by ``border``

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """(N,) scores, (N,) bool labels -> the best-F1 threshold (module doc); None without both labels."""
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return None
    fpr, tpr, thr = roc_curve(scores, labels)  # thr[1:]: distinct scores, descending
    tp, fp = tpr[1:] * labels.sum(), fpr[1:] * (~labels).sum()
    k = int(np.argmax(2 * tp / (tp + fp + labels.sum())))  # the first maximum: the highest threshold
    return float(np.nextafter(np.float32(thr[k + 1]), np.float32(-np.inf)))  # flags exactly scores >= thr[k + 1]


def detection(scores: np.ndarray, labels: np.ndarray, defects: np.ndarray, thresholds: dict[str, float | None]) -> dict:
    """Per defect type: n, median score and the share flagged (``score > t``) at each threshold
    ("good": the false-positive share)."""
    out = {}
    for d in sorted(set(defects.tolist())):
        s = scores[defects == d]
        out[d] = {
            "n": int(len(s)),
            "median_score": float(np.median(s)),
            "flagged": {k: (None if t is None else float(np.mean(s > t))) for k, t in thresholds.items()},
        }
    return out


def foreground(image: np.ndarray) -> np.ndarray:
    """(3, S, S) float in [0, 1] -> (S, S) bool: differs from the outer ring's median colour by > FG_DIFF."""
    w = max(1, image.shape[-1] // 32)
    ring = np.ones(image.shape[1:], bool)
    ring[w:-w, w:-w] = False
    median = np.median(image[:, ring], axis=1)  # (3,)
    return np.abs(image - median[:, None, None]).max(axis=0) > FG_DIFF


def maxima(maps: np.ndarray, images: np.ndarray | None, gt: np.ndarray, known: np.ndarray) -> list[dict]:
    """Per image: the position (y, x) / S of its map's maximum, its border distance / S, and
    with images (N, 3, S, S) whether it is on the object and its brightness percentile; with a
    known non-empty mask (N, H, W), whether it falls in the mask."""
    s, out = maps.shape[-1], []
    for i in range(len(maps)):
        r, c = np.unravel_index(int(np.argmax(maps[i])), maps.shape[1:])
        rec = {"y": (r + 0.5) / s, "x": (c + 0.5) / s, "border": min(r, c, s - 1 - r, s - 1 - c) / s}
        if images is not None:
            grey = images[i].mean(axis=0)  # (S, S)
            rec["on_object"] = bool(foreground(images[i])[r, c])
            rec["brightness_pct"] = 100 * float(np.mean(grey < grey[r, c]) + 0.5 * np.mean(grey == grey[r, c]))
        if known[i] and gt[i].any():
            rec["in_mask"] = bool(gt[i, int((r + 0.5) * gt.shape[1] / s), int((c + 0.5) * gt.shape[2] / s)])
        out.append(rec)
    return out


def border(maps: np.ndarray, labels: np.ndarray) -> dict:
    """The border statistics of the module doc: normal images' error per outer ring relative to the
    interior, and the share of every image's top 1 % of pixels within S/16 of an edge."""
    s = maps.shape[-1]
    yy, xx = np.mgrid[:s, :s]
    dist = np.minimum.reduce([yy, xx, s - 1 - yy, s - 1 - xx])
    normal = maps[~labels] if (~labels).any() else maps
    interior = float(normal[:, dist >= s // 8].mean())
    rings = [float(normal[:, dist == d].mean()) / interior if interior > 0 else None for d in range(BORDER_RINGS)]
    k = max(1, round(0.01 * s * s))
    near = dist.ravel() < max(1, s // 16)
    top = np.argpartition(maps.reshape(len(maps), -1), -k, axis=1)[:, -k:]
    return {
        "ring_to_interior": rings,
        "top1pct_near_border": float(near[top].mean()),
        "near_border_area": float(near.mean()),
    }


def summarise(records: list[dict]) -> dict:
    """Medians and shares over a group of ``maxima`` records (keys present in all of them only)."""
    if not (out := {"n": len(records)})["n"]:
        return out
    out["median_border"] = float(np.median([r["border"] for r in records]))
    if all("on_object" in r for r in records):
        out["on_object"] = float(np.mean([r["on_object"] for r in records]))
        pct = np.array([r["brightness_pct"] for r in records])
        out["median_brightness_pct"], out["bright_spot"] = float(np.median(pct)), float(np.mean(pct >= BRIGHT_PCT))
    if all("in_mask" in r for r in records):
        out["in_mask"] = float(np.mean([r["in_mask"] for r in records]))
    return out


def missed_defects(d: dict[str, np.ndarray], thresholds: dict[str, float | None]) -> dict:
    """Every defect image with a known mask classified "model" or "scoring" (module doc), and per
    defect type the counts and median region-max / normal-level ratio among all of them ("all")
    and among those missed (``score <= t``) at each threshold."""
    labels = d["labels"]
    has_mask = labels & d["known"] & d["gt"].reshape(len(labels), -1).any(axis=1)
    if not has_mask.any() or labels.all():
        return {"skipped": "no defect image with a ground-truth mask, or no normal image"}
    normal_level = float(np.percentile(d["maps"][~labels].astype(np.float32), NORMAL_PCT))
    images = []
    for i in np.flatnonzero(has_mask):
        m = upsample(d["maps"][i : i + 1], d["gt"].shape[1:])[0][d["gt"][i]]  # the map in the mask
        ratio = float(m.max()) / normal_level if normal_level > 0 else math.inf
        images.append(
            {
                "name": str(d["names"][i]),
                "defect": str(d["defects"][i]),
                "score": float(d["scores"][i]),
                "region_mean": float(m.mean()),
                "region_max": float(m.max()),
                "ratio": ratio,
                "class": "scoring" if ratio > 1 else "model",
                "outranked_by": int((d["scores"][~labels] >= d["scores"][i]).sum()),
                "missed": {k: (None if t is None else bool(d["scores"][i] <= t)) for k, t in thresholds.items()},
            }
        )

    def count(rows: list[dict]) -> dict:
        return {
            "n": len(rows),
            "model": sum(q["class"] == "model" for q in rows),
            "scoring": sum(q["class"] == "scoring" for q in rows),
            "median_ratio": float(np.median([q["ratio"] for q in rows])) if rows else None,
        }

    types = {}
    for t in sorted({q["defect"] for q in images}):
        rows = [q for q in images if q["defect"] == t]
        types[t] = {"all": count(rows)} | {k: count([q for q in rows if q["missed"][k]]) for k in thresholds}
    return {"normal_level": normal_level, "normal_pct": NORMAL_PCT, "images": images, "per_defect": types}


def shift(heldout: np.ndarray, normal: np.ndarray) -> dict:
    """The normal test images' scores against the held-out normal training images' (module doc)."""
    heldout, normal = np.asarray(heldout, np.float64), np.asarray(normal, np.float64)
    u, p = stats.mannwhitneyu(normal, heldout, alternative="two-sided")
    return {
        "auroc": float(u / (len(normal) * len(heldout))),  # P(normal test > held-out), ties counted half
        "p": float(p),
        "n_heldout": len(heldout),
        "n_normal": len(normal),
        "median_heldout": float(np.median(heldout)),
        "median_normal": float(np.median(normal)),
    }


def diagnose(d: dict[str, np.ndarray], images: np.ndarray | None = None, heldout: np.ndarray | None = None) -> dict:
    """All statistics of the module doc. ``d``: ``load_scores``'s dict; ``images``: (N, 3, S, S)
    float32 in [0, 1], the test images at the maps' side, or None (image statistics skipped);
    ``heldout``: the held-out training images' scores, or None (no shift)."""
    scores, labels = np.asarray(d["scores"], np.float32), np.asarray(d["labels"], bool)
    best = best_f1_threshold(scores, labels)
    thresholds = {"calibrated": float(d["threshold"]), "best_f1": best}
    recs = maxima(d["maps"].astype(np.float32), images, d["gt"], d["known"])
    for r, name, defect, score in zip(recs, d["names"], d["defects"], scores):
        r |= {"name": str(name), "defect": str(defect), "score": float(score)}
    normal = np.flatnonzero(~labels)
    k = min(len(normal), max(TOP_MIN, math.ceil(TOP_SHARE * len(normal))))
    top = normal[np.argsort(-scores[normal], kind="stable")[:k]]
    for i in top:
        recs[i]["top_normal"] = True
    groups = {
        "top_normal": [recs[i] for i in top],
        "all_normal": [recs[i] for i in normal],
        "defective": [recs[i] for i in np.flatnonzero(labels)],
    }
    extra = {} if heldout is None or not len(heldout) or not len(normal) else {"shift": shift(heldout, scores[normal])}
    return extra | {
        "thresholds": thresholds,
        "detection": detection(scores, labels, d["defects"], thresholds),
        "maxima": {
            "summary": {g: summarise(r) for g, r in groups.items()},
            "images": recs,
            "with_images": images is not None,
        },
        "missed": missed_defects(d, thresholds),
        "border": border(d["maps"].astype(np.float32), labels),
        "constants": {"top_share": TOP_SHARE, "top_min": TOP_MIN, "fg_diff": FG_DIFF, "bright_pct": BRIGHT_PCT},
    }


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


@app.command()
def main(
    scores: Path = typer.Argument(..., help="A score file, data/scores/<category>.npz."),
    images: Path | None = typer.Option(
        None,
        help="The category's folder in MVTec layout (test/<defect>/...); without it the image statistics are skipped.",
    ),
    model: Path | None = typer.Option(
        None,
        help="The category's model folder (data/models/<category>): compares the normal test images' "
        "scores with its held-out training images' (calibration.json).",
    ),
    out: Path = typer.Option(..., help="Folder for diagnosis.json, .md and .png."),
) -> None:
    """Diagnose a score file: detection per defect type at the calibrated and best-F1 thresholds,
    where the map maxima sit, whether each missed defect was copied or outranked, and (with
    --model) whether the normal test images score like the held-out training images."""
    try:
        d = load_scores(scores)
    except FileNotFoundError:
        raise _fail(f"no scores file {scores}") from None
    except Exception as e:  # noqa: BLE001 - any unreadable file gets one line
        raise _fail(f"{scores} is not a score file of the score stage ({type(e).__name__}: {e})") from None
    pictures = None
    if images is not None:
        paths = [images / "test" / str(n) for n in d["names"]]
        if missing := [str(p) for p in paths if not p.is_file()]:
            raise _fail(f"{len(missing)} test images of {scores} are not in {images}/test, e.g. {missing[0]}")
        pictures = load_images(paths, d["maps"].shape[-1])
    heldout = None
    if model is not None:
        try:
            heldout = np.asarray(load_calibration(model / "calibration.json")[0].heldout_scores)
        except ModelError as e:
            raise _fail(str(e)) from None
    result = diagnose(d, pictures, heldout)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagnosis.json").write_text(to_json(result))
    (out / "diagnosis.md").write_text(to_markdown(result))
    save_figure(figure(result), out / "diagnosis.png")
    print(f"wrote {out}/diagnosis.json, .md and .png")


if __name__ == "__main__":
    app()
