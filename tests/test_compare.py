"""`make compare`: experiments side by side in at most 120 columns, a note when means differ in scope."""

from ssae.experiments.compare import rows, table


def entry(rev, name, params, mean, cats):
    metrics = {
        "mean": mean,
        "categories": {c: mean for c in cats},
        "n_categories": len(cats),
        "mean_over": ",".join(cats),
    }
    return {
        "rev": rev,
        "name": name,
        "data": {"params": {"params.yaml": {"data": params}}, "metrics": {"reports/metrics.json": {"data": metrics}}},
    }


BASE = {
    "categories": ["brick", "grass", "gravel", "tissue"],
    "seed": 0,
    "train": {
        "noise": "structured",
        "epochs": 25,
        "model": {"gates": True, "image_gate": True, "sdc_blocks": 2, "dilations": [1, 2, 4, 8]},
    },
    "masks": {"perlin": 1.0, "stroke": 1.0},
    "overrides": {"brick": {"train": {}}},
}
MEAN = {"image_auroc": 0.61, "pixel_auroc": 0.57, "aupro": 0.432, "image_f1_max": 0.9, "pixel_ap": 0.1}


def changed(**edits):
    import copy

    p = copy.deepcopy(BASE)
    for key, value in edits.items():
        node = p
        *parents, leaf = key.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return p


def show():
    ablations = [
        ("plain-ae", changed(train__noise="none")),
        ("no-ccm", changed(train__model__gates=False, train__model__image_gate=False)),
        ("no-sdc", changed(train__model__sdc_blocks=0)),
        ("dil-12", changed(train__model__dilations=[1, 2])),
        ("bezier-only", changed(masks__perlin=0.0, masks__stroke=0.0)),
        ("long", changed(train__epochs=100)),
    ]
    exps = [
        {"name": n, "revs": [entry(f"{i:040d}", n, p, MEAN, BASE["categories"])]} for i, (n, p) in enumerate(ablations)
    ]
    exps.append(
        {"name": "brick-only", "revs": [entry("f" * 40, "brick-only", changed(categories=["brick"]), MEAN, ["brick"])]}
    )
    return [
        entry("workspace", None, BASE, MEAN, BASE["categories"]),
        {**entry("a" * 40, "main", BASE, MEAN, BASE["categories"]), "experiments": exps},
    ]


def test_the_comparison_fits_120_columns_and_shows_what_varies():
    text = table(rows(show()))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    assert lines[0].startswith("experiment") and "mean img" in lines[0] and "mean pro" in lines[0]
    plain = next(line for line in lines if "plain-ae" in line)
    assert "61.0" in plain and "57.0" in plain and "43.2" in plain and "t.noise=none" in plain
    assert "t.epochs" not in plain  # only what that experiment changed
    assert "m.dilations=[1,2]" in next(line for line in lines if "dil-12" in line)
    assert any("not comparable" in line for line in lines)  # brick-only's mean is over 1 category


def test_a_category_on_request():
    lines = table(rows(show()), category="brick").splitlines()
    assert "brick img" in lines[0] and max(map(len, lines)) <= 120
