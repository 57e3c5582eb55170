"""Chroma server mode with the server stopped mid-session: questions keep being answered from the corpus
snapshot, an upload is refused with a Vietnamese reason and loses nothing stored, and once the server is back the
same engine ingests and answers again by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings
from tests.conftest import unavailable
from tests.servers import ChromaServer


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    chroma = ChromaServer(tmp_path / "chroma-data")
    if not Path(chroma.binary).exists():
        unavailable("the chroma CLI is not installed")
    chroma.start()
    yield chroma
    chroma.stop()


def test_the_app_survives_a_chroma_outage_and_recovers(server: ChromaServer, tmp_path: Path, cache_dir, embedder):
    settings = Settings(data_dir=tmp_path, cache_dir=cache_dir, chroma_host="127.0.0.1", chroma_port=server.port)
    engine = Engine(settings, embedder=embedder)
    ingest = Ingestor(settings, embedder=embedder, store=engine.store)
    ingest.run([SAMPLE_DIR])
    question = "Thủ tướng yêu cầu chấm dứt tình trạng gì?"
    before = engine.ask(question)
    assert not before.refused
    chunks_before = engine.store.stats()["chunks"]

    server.stop()
    during = engine.ask(question)  # answered from the in-memory snapshot
    assert during.answer == before.answer
    new = tmp_path / "moi.txt"
    new.write_text("Thông báo mới\n\nCổng dịch vụ công tiếp nhận hồ sơ cấp đổi giấy phép lái xe.", encoding="utf-8")
    summary = ingest.run([new])
    assert summary.chunks_added == 0 and summary.failures
    assert all("Chroma" in f.reason for f in summary.failures), [f.reason for f in summary.failures]
    assert engine.store.stats()["chunks"] == chunks_before  # nothing lost, nothing half-written

    server.start()
    after = ingest.run([new])
    assert after.chunks_added > 0 and not after.failures
    answer = engine.ask("Cổng dịch vụ công tiếp nhận hồ sơ gì?")
    assert not answer.refused and "giấy phép lái xe" in answer.answer
    engine.close()
