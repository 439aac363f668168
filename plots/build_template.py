"""Write plots/template.html: DVC's plots page with Vega, Vega-Lite and Vega-Embed inlined.

`dvc plots show` and `dvc plots diff` use it (.dvc/config: plots.html_template), so the page
they write is one self-contained file that renders without network (DVC's own page loads
these libraries from a CDN). The libraries come from the npm registry, pinned below with the
SHA-256 of their tarballs; re-run to update them (needs npm):

    python plots/build_template.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# npm package, version, SHA-256 of the tarball, the file inlined
LIBS = [
    ("vega", "5.33.1", "1b8504b6731c5311be3269c4d84ca996a5cc293bc772283293ede20c490e16c3", "build/vega.min.js"),
    (
        "vega-lite",
        "5.23.0",
        "e4cbfdd8f6f1abe381c59cd558fd6a559c12b1496bfdf2e0c3295263a40fe4da",
        "build/vega-lite.min.js",
    ),
    (
        "vega-embed",
        "6.29.0",
        "ecf1ee709c2bac9e0a4ead6908114b05b62c71493e10a8a4308109bb070f8eb1",
        "build/vega-embed.min.js",
    ),
]
OUT = Path(__file__).with_name("template.html")

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>ssae: DVC plots</title>
<!-- {credits}: BSD-3-Clause, Copyright (c) 2015, University of Washington Interactive
     Data Lab (plots/LICENSE-vega.txt). Inlined by plots/build_template.py: no network needed. -->
{scripts}
<style>
  body {{ font-family: sans-serif; margin: 16px; }}
  body > div {{ margin: 0 0 24px 0; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def library(name: str, version: str, sha256: str, member: str, tmp: Path) -> str:
    """The JavaScript of ``member`` in the npm tarball of name@version, checked against ``sha256``."""
    subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    tgz = tmp / f"{name}-{version}.tgz"
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != sha256:
        sys.exit(f"{tgz.name}: SHA-256 {digest}, expected {sha256}")
    with tarfile.open(tgz) as tar:
        js = tar.extractfile(f"package/{member}").read().decode()
    # no source map to fetch; nothing that DVC's template placeholders or the HTML parser would see
    js = "\n".join(line for line in js.splitlines() if not line.startswith("//# sourceMappingURL="))
    assert "</script" not in js and not any(f"{{{p}}}" in js for p in ("plot_divs", "scripts", "refresh_tag"))
    return js


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scripts = "\n".join(
            f"<script>/* {n} {v} */\n{library(n, v, s, m, Path(tmp))}\n</script>" for n, v, s, m in LIBS
        )
    credits = ", ".join(f"{n} {v}" for n, v, _, _ in LIBS)
    OUT.write_text(PAGE.format(credits=credits, scripts=scripts))
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
