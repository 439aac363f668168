"""dvc.yaml agrees with src/ssae/core/paths.py, and each stage depends on the modules it imports."""

import ast
from pathlib import Path

import pytest
import yaml

from ssae.core import paths

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
DVC = DVC_YAML["stages"]


def outs(stage):
    return [next(iter(o)) if isinstance(o, dict) else o for o in DVC[stage].get("outs", [])]


def item(template: str, category: str = "brick") -> str:
    return template.replace("${item.category}", category)


def test_outputs_match_the_paths_module():
    c = "brick"
    assert outs("fingerprint") == [str(paths.FINGERPRINTS)]
    assert [item(o) for o in outs("download")] == [str(paths.raw_category(c))]
    assert [item(o) for o in outs("masks")] == [str(paths.masks_file(c))]
    assert [item(o) for o in outs("train")] == [str(paths.model_dir(c)), str(paths.train_log_dir(c))]
    assert [item(o) for o in outs("score")] == [str(paths.scores_file(c)), str(paths.gallery_png(c))]
    agg = outs("aggregate")
    plot_data = [str(paths.ROC_CSV), str(paths.PRO_CSV), str(paths.LOSS_CSV)]
    assert {str(paths.RESULTS_CSV), str(paths.RESULTS_MD), *plot_data} <= set(agg)
    assert [next(iter(m)) for m in DVC["aggregate"]["metrics"]] == [str(paths.METRICS)]
    assert [next(iter(p)) for p in DVC_YAML["plots"]] == plot_data  # top-level: one plot per curve type
    assert str(paths.train_loss_tsv(c)).startswith(str(paths.train_log_dir(c)))


def test_data_dependencies_are_upstream_outputs():
    c = "brick"
    deps = lambda s: [item(d) for d in DVC[s]["deps"] if not d.endswith(".py")]  # noqa: E731
    assert deps("download") == [str(paths.fingerprint_file(c))]  # the folder outside the workspace
    assert deps("masks") == [str(paths.raw_category(c))]
    assert deps("train") == [str(paths.raw_category(c)), str(paths.masks_file(c))]
    assert deps("score") == [str(paths.raw_category(c)), str(paths.model_dir(c))]
    assert deps("aggregate") == [str(paths.SCORES), str(paths.TRAIN_LOGS)]


def local_imports(path: Path) -> set[str]:
    """ssae modules imported by ``path``, transitively."""
    seen: set[str] = set()
    todo = [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ssae"):
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("ssae")]
            for name in names:
                f = ROOT / "src" / (name.replace(".", "/") + ".py")
                if f.is_file() and f.name != "__init__.py" and str(f) not in seen:
                    seen.add(str(f))
                    todo.append(f)
    return {str(Path(s).relative_to(ROOT)) for s in seen}


@pytest.mark.parametrize("stage", list(DVC))
def test_code_dependencies_are_exactly_the_imported_modules(stage):
    declared = {d for d in DVC[stage]["deps"] if d.endswith(".py")}
    script = f"stages/{stage}.py"
    assert script in declared
    assert declared - {script} == local_imports(ROOT / script)


def test_stage_params_are_declared_keys_of_params_yaml():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in DVC.items():
        for key in stage["params"]:
            node = params
            for part in item(key).split("."):
                assert part in node, f"{name}: params key {key} not in params.yaml"
                node = node[part]


def test_each_stage_of_a_category_tracks_only_its_own_overrides():
    for stage in ("masks", "train", "score"):
        own = [k for k in DVC[stage]["params"] if k.startswith("overrides")]
        assert own and all(k.startswith("overrides.${item.category}.") for k in own), stage
        assert f"overrides.${{item.category}}.{stage}" in own
    assert not any(k.startswith(("overrides", "categories")) for k in DVC["download"]["params"])


def test_plots_use_the_projects_template_and_page():
    for plot in DVC_YAML["plots"]:
        spec = next(iter(plot.values()))
        assert spec["template"] == "plots/curves.json" and (ROOT / spec["template"]).is_file()
        assert "category" in spec["title"]
    config = (ROOT / ".dvc" / "config").read_text()  # paths in it are relative to .dvc/
    assert "html_template = ../plots/template.html" in config
    page = (ROOT / "plots" / "template.html").read_text()
    assert "{plot_divs}" in page and "{scripts}" not in page and "cdn." not in page and "vegaEmbed" in page


def test_no_command_holds_a_category_name():
    """DVC runs cmd through a shell: a category such as 'x;touch pwned' must not reach it (the
    stages read their category from DVC_STAGE)."""
    for name, stage in DVC.items():
        assert "${" not in stage["cmd"], name
    assert DVC["fingerprint"]["always_changed"] is True


def test_a_stage_reads_its_category_from_dvc_stage(monkeypatch):
    from ssae.startup import stage_category

    monkeypatch.setenv("DVC_STAGE", "train@x;touch pwned")
    assert stage_category(None) == "x;touch pwned"
    monkeypatch.setenv("DVC_STAGE", "sub/dvc.yaml:score@a@b")
    assert stage_category(None) == "a@b"
    assert stage_category("brick") == "brick"  # --category wins (a manual run)
