"""The ``data`` section of params.yaml: which dataset, and how each source gets its images
(``ssae.core.config`` builds it with the other sections; this module only declares it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ssae.core import mvtec
from ssae.core.schema import check


@dataclass(frozen=True)
class EmbeddedConfig:
    image_size: int = 128  # side of every generated image, px
    zoom: float = 1.0  # scale applied to the source photos before cropping
    n_train: int = 80  # normal training images per category
    n_test_good: int = 16  # normal test images per category
    n_test_per_defect: int = 5  # anomalous test images per defect type

    def __post_init__(self) -> None:
        check("image_size", 32 <= self.image_size <= 512, f"must be in [32, 512], got {self.image_size}")
        check("zoom", 0.1 <= self.zoom <= 1.0, f"must be in [0.1, 1], got {self.zoom}")
        check("n_train", self.n_train >= 1, f"must be >= 1, got {self.n_train}")
        check("n_test_good", self.n_test_good >= 1, f"must be >= 1, got {self.n_test_good}")
        check("n_test_per_defect", self.n_test_per_defect >= 1, f"must be >= 1, got {self.n_test_per_defect}")


@dataclass(frozen=True)
class MvtecConfig:
    source: Literal["remote", "archive", "directory"] = "remote"  # where MVTec AD comes from
    mirrors: tuple[str, ...] = mvtec.MIRRORS  # tried in order (source: remote)
    sha256: str = mvtec.SHA256  # of mvtec_anomaly_detection.tar.xz (remote and archive)
    archive: str = ""  # a hand-downloaded mvtec_anomaly_detection.tar.xz (source: archive)
    directory: str = ""  # an already-extracted MVTec AD tree (source: directory)
    cache_dir: str = "~/.cache/ssae/mvtec_ad"  # where the downloaded archive is kept (outside data/)
    connect_timeout: float = 30.0  # s to open a connection to a mirror
    read_timeout: float = 60.0  # s without a byte before a download attempt is abandoned
    attempts: int = 4  # tries per mirror (resuming, with exponential backoff) before the next one

    def __post_init__(self) -> None:
        digest = self.sha256.lower()
        check(
            "sha256",
            len(digest) == 64 and all(c in "0123456789abcdef" for c in digest),
            f"must be 64 hex digits, got {self.sha256!r}",
        )
        bad = [u for u in self.mirrors if not u.startswith(("http://", "https://"))]
        check("mirrors", not bad, f"must be http(s) URLs, got {bad}")
        check("cache_dir", bool(self.cache_dir), "must name a folder for the downloaded archive")
        check("connect_timeout", self.connect_timeout > 0, f"must be > 0, got {self.connect_timeout}")
        check("read_timeout", self.read_timeout > 0, f"must be > 0, got {self.read_timeout}")
        check("attempts", self.attempts >= 1, f"must be >= 1, got {self.attempts}")


@dataclass(frozen=True)
class FolderConfig:
    # a folder of one's own in MVTec AD layout: <root>/<category>/train/good, test/<good|defect>,
    # optional ground_truth/<defect>/<stem>_mask.*; any names, counts and sizes (docs/datasets.md)
    root: str = ""


@dataclass(frozen=True)
class DataConfig:
    dataset: Literal["embedded", "mvtec_ad", "folder"] = "embedded"
    mvtec: MvtecConfig = field(default_factory=MvtecConfig)  # how to get MVTec AD (dataset: mvtec_ad)
    embedded: EmbeddedConfig = field(default_factory=EmbeddedConfig)
    folder: FolderConfig = field(default_factory=FolderConfig)  # your own images (dataset: folder)

    def __post_init__(self) -> None:
        if self.dataset == "folder":
            check(
                "folder.root",
                bool(self.folder.root),
                "must name the folder that holds your categories when dataset is folder",
            )
        if self.dataset != "mvtec_ad":
            return
        m = self.mvtec
        if m.source == "remote":
            check("mvtec.mirrors", bool(m.mirrors), "must list at least one URL when source is remote")
        elif m.source == "archive":
            check(
                "mvtec.archive",
                bool(m.archive),
                "must name a downloaded mvtec_anomaly_detection.tar.xz when source is archive",
            )
        else:
            check(
                "mvtec.directory",
                bool(m.directory),
                "must name an extracted MVTec AD directory when source is directory",
            )
