"""The compute-scaling table: series named by the recipe, compute counted from epochs or steps."""

from pathlib import Path

from ssae.experiments.scaling import points

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["categories=[pill]", "train.image_size=32", "train.batch_size=16"]


def record(name: str, *extra: str, image_auroc: float = 0.8) -> dict:
    return {"name": name, "overrides": [*COMMON, *extra], "seeds": {"0": {"mean": {"image_auroc": image_auroc}}}}


def test_budget_and_runtime_move_a_point_along_its_series_and_the_recipe_names_it(monkeypatch):
    monkeypatch.chdir(ROOT)  # the records' params are params.yaml plus their overrides
    recs = [
        record("short", "train.epochs=10", "runtime.threads=1"),
        record("long", "train.steps=600", "runtime.threads=2"),  # 240 images / 16 = 15 steps per epoch: 40 epochs
        record("topk", "train.epochs=10", "runtime.threads=1", "score.image_topk=0.01"),
    ]
    by_name = {p["name"]: p for p in points(recs, n_train=240)}
    assert by_name["short"]["series"] == by_name["long"]["series"] != by_name["topk"]["series"]
    assert "score.image_topk=0.01" in by_name["topk"]["series"]
    assert (by_name["short"]["epochs"], by_name["long"]["epochs"]) == (10, 40)
    assert abs(by_name["long"]["tflop"] / by_name["short"]["tflop"] - 4) < 1e-9
    assert by_name["short"]["image_auroc"] == (80.0, 0.0)
