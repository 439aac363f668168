"""`dvc plots show` / `dvc plots diff` pages render offline, in a real headless browser.

The repository's dvc.yaml, .dvc/config and plots/ are copied into a temporary DVC repository
with small plot data (two categories); DVC writes the page with plots/template.html, and
Chromium loads it with every network request refused. The test then reads the drawn DOM: one
SVG chart per curve type, one line per category (and revision), the category names in the
legend. Needs a headless Chromium (Debian: `apt-get install chromium-headless-shell`, or set
SSAE_CHROMIUM to a binary); skipped without one. Set SSAE_PLOTS_SCREENSHOT=path.png to also
save a screenshot of the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
CHROMIUM = os.environ.get("SSAE_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
# every request that leaves the page fails: no name resolves, and any proxy use hits a closed port
OFFLINE = ["--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
PLOTS = {"roc": ("fpr", "tpr"), "pro": ("fpr", "pro"), "loss": ("epoch", "loss")}
CATEGORIES = ("brick", "tissue")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # runs dvc
    pytest.mark.skipif(
        CHROMIUM is None, reason="no headless Chromium: apt-get install chromium-headless-shell (or set SSAE_CHROMIUM)"
    ),
]


def sh(args: list[str], cwd: Path) -> str:
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r.stdout


def write_plot_data(repo: Path, shift: float = 0.0) -> None:
    """reports/plots/<name>.csv as the aggregate stage writes them: category, x, y."""
    rng = np.random.default_rng(int(shift * 10))
    for name, (x, y) in PLOTS.items():
        rows = []
        for c in CATEGORIES:
            xs = np.arange(1, 11) if name == "loss" else np.linspace(0, 1 if name == "roc" else 0.3, 12)
            ys = 1 / xs if name == "loss" else np.clip(np.sort(rng.random(len(xs))) + shift, 0, 1)
            rows.append(pd.DataFrame({"category": c, x: xs, y: ys}))
        (repo / "reports" / "plots").mkdir(parents=True, exist_ok=True)
        pd.concat(rows).to_csv(repo / "reports" / "plots" / f"{name}.csv", index=False)


def render(page: Path, screenshot: Path | None = None) -> str:
    """The DOM of ``page`` after its scripts ran in headless Chromium, offline."""
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, "--virtual-time-budget=10000"]
    if screenshot:
        subprocess.run(
            args + ["--hide-scrollbars", "--window-size=1100,1250", f"--screenshot={screenshot}", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    r = subprocess.run(args + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("plots")
    for f in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / f, repo / f)
    shutil.copytree(ROOT / "plots", repo / "plots")
    sh(["git", "init", "-q"], repo)
    sh(["dvc", "init", "-q"], repo)
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    write_plot_data(repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "plots"], repo)
    return repo


def charts(dom: str) -> dict[str, str]:
    """{plot div id: its drawn markup}."""
    ids = re.findall(r'<div id="(reports_plots_\w+)"', dom)
    starts = [dom.index(f'<div id="{i}"') for i in ids] + [len(dom)]
    return {i: dom[a:b] for i, a, b in zip(ids, starts, starts[1:])}


def lines(chart: str) -> list[str]:
    """The drawn line marks: one per series, each with its path data."""
    return re.findall(r'<path[^>]*aria-label="([^"]*)"[^>]*aria-roledescription="line mark"[^>]*d="M[^"]{20,}"', chart)


def test_plots_show_draws_every_curve_offline_with_category_names(repo):
    sh(["dvc", "plots", "show", "-o", "page"], repo)
    html = (repo / "page" / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=", html), "the page must not load scripts from anywhere"
    shot = os.environ.get("SSAE_PLOTS_SCREENSHOT")
    dom = render(repo / "page" / "index.html", Path(shot).resolve() if shot else None)
    found = charts(dom)
    assert sorted(found) == ["reports_plots_loss_csv", "reports_plots_pro_csv", "reports_plots_roc_csv"]
    for chart in found.values():
        assert "<svg" in chart and "one curve per category" in chart  # drawn, with its title
        drawn = lines(chart)
        assert sorted(re.search(r"category: (\w+)", d).group(1) for d in drawn) == sorted(CATEGORIES)
        for c in CATEGORIES:
            assert f">{c}</text>" in chart  # legend entry


def test_plots_diff_draws_each_revision(repo):
    write_plot_data(repo, shift=0.1)
    try:
        sh(["dvc", "plots", "diff", "HEAD", "-o", "diff"], repo)
    finally:
        write_plot_data(repo)  # the workspace as the module's other test expects it
    dom = render(repo / "diff" / "index.html")
    found = charts(dom)
    assert len(found) == len(PLOTS)
    for chart in found.values():
        drawn = lines(chart)
        revs = {(re.search(r"category: (\w+)", d).group(1), re.search(r"revision: (\w+)", d).group(1)) for d in drawn}
        assert revs == {(c, r) for c in CATEGORIES for r in ("HEAD", "workspace")}
