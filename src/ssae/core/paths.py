"""Every artifact path of the pipeline, defined once (tests check dvc.yaml agrees).

Paths are relative to the repository root, where DVC runs the stages.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
DATA = Path("data")
FINGERPRINTS = DATA / "fingerprints"  # FINGERPRINTS/<category>.json: the listing of its source folder
RAW = DATA / "raw"  # the dataset in MVTec AD layout: RAW/<category>/{train,test,ground_truth}
# RAW/<category>/LEFT_OUT (data.dataset: folder, only when there is something in it): the images
# of the user's folder that are not in RAW/<category> (unreadable, hidden, outside the layout)
LEFT_OUT = "left_out.json"
MASKS = DATA / "masks"  # MASKS/<category>.npz: bit-packed corruption mask bank
MODELS = DATA / "models"  # MODELS/<category>/{model.pt,meta.json,calibration.json[,spread.npz]}
WEIGHTS, META, CALIBRATION = "model.pt", "meta.json", "calibration.json"  # the files of a model folder
SPREAD = "spread.npz"  # and, with score.spread: pixel, the image-score spread
# CHECKPOINTS/<category>.pt: the state of an unfinished training run. Deliberately NOT a DVC
# output (DVC deletes a stage's outputs before running it, which would defeat resuming);
# gitignored, keyed by everything that determines training, deleted once training completes.
CHECKPOINTS = DATA / "checkpoints"
SCORES = DATA / "scores"  # SCORES/<category>.npz: maps, scores, labels, masks, names
REPORTS = Path("reports")
TRAIN_LOGS = REPORTS / "train"  # TRAIN_LOGS/<category>/: DVCLive metrics and loss curve (git)
FIGURES = REPORTS / "figures"
PLOTS = REPORTS / "plots"  # DVC plot data (git): one CSV per curve type, a `category` column
ROC_CSV = PLOTS / "roc.csv"  # category, fpr, tpr: image-level ROC
PRO_CSV = PLOTS / "pro.csv"  # category, fpr, pro: PRO curve up to aggregate.fpr_limit
LOSS_CSV = PLOTS / "loss.csv"  # category, epoch, loss: training loss
METRICS = REPORTS / "metrics.json"
RESULTS_CSV = REPORTS / "results.csv"
RESULTS_MD = REPORTS / "results.md"


def fingerprint_file(category: str) -> Path:
    return FINGERPRINTS / f"{category}.json"


def raw_category(category: str) -> Path:
    return RAW / category


def masks_file(category: str) -> Path:
    return MASKS / f"{category}.npz"


def model_dir(category: str) -> Path:
    return MODELS / category


def model_weights(category: str) -> Path:
    return model_dir(category) / WEIGHTS


def model_meta(category: str) -> Path:
    return model_dir(category) / META


def model_calibration(category: str) -> Path:
    return model_dir(category) / CALIBRATION


def checkpoint_file(category: str) -> Path:
    return CHECKPOINTS / f"{category}.pt"


def train_log_dir(category: str) -> Path:
    return TRAIN_LOGS / category


def train_loss_tsv(category: str) -> Path:
    """Where DVCLive writes the per-epoch loss of ``Live(train_log_dir(category))``."""
    return train_log_dir(category) / "plots" / "metrics" / "train" / "loss.tsv"


def scores_file(category: str) -> Path:
    return SCORES / f"{category}.npz"


def gallery_png(category: str) -> Path:
    return FIGURES / f"gallery_{category}.png"
