"""bot.feedback: durable ratings with what was rated."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answer.citations import Citation
from bot.feedback import MAX_REASON_CHARS, FeedbackError, FeedbackStore
from settings import Settings

CITATION = Citation(1, "doc", "Tiêu đề", "comment", 3, "nguon.txt", "trích dẫn", 10, 19)


def test_add_and_read_back_everything(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb" / "feedback.sqlite3")
    fid = store.add(
        question="Hỏi gì?",
        answer="Trả lời [1].",
        citations=[CITATION],
        prompt_version="answer@v2",
        useful=False,
        reason="Thiếu nguồn",
        generator="local",
        session="abc",
    )
    record = store.get(fid)
    assert record is not None
    assert (record.question, record.answer, record.useful, record.reason) == (
        "Hỏi gì?",
        "Trả lời [1].",
        False,
        "Thiếu nguồn",
    )
    assert record.prompt_version == "answer@v2" and record.generator == "local" and record.session == "abc"
    assert record.citations == [CITATION.to_dict()]
    assert record.created_at.endswith("+00:00")


def test_durable_across_instances_and_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    FeedbackStore.from_settings(settings).add(question="q", answer="a", useful=True, citations=[{"n": 1}])
    path = tmp_path / "feedback" / "feedback.sqlite3"
    assert path.is_file()
    again = FeedbackStore(path)
    assert again.counts() == {"total": 1, "useful": 1, "not_useful": 0}
    assert again.recent()[0].citations == [{"n": 1}]


def test_update_rating_and_reason(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    fid = store.add(question="q", answer="a", useful=True)
    assert store.update(fid, useful=False, reason="x" * (MAX_REASON_CHARS + 50))
    record = store.get(fid)
    assert record.useful is False and len(record.reason) == MAX_REASON_CHARS
    assert store.update(fid, reason="ngắn") and store.get(fid).useful is False
    assert store.update(999, useful=True) is False


def test_export_jsonl_and_concurrent_writers(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")

    def write(n: int) -> None:
        for i in range(10):
            store.add(question=f"{n}-{i}", answer="a", useful=i % 2 == 0)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts() == {"total": 40, "useful": 20, "not_useful": 20}
    out = tmp_path / "out.jsonl"
    assert store.export_jsonl(out) == 40
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 40 and {"question", "answer", "citations", "prompt_version", "created_at"} <= set(rows[0])


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB filesystem (tmpfs), to run out of space for real."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()}): needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def test_a_full_disk_is_reported_and_loses_nothing_stored(tiny_disk: Path) -> None:
    store = FeedbackStore(tiny_disk / "feedback.sqlite3")
    stored: list[int] = []
    with pytest.raises(FeedbackError) as err:
        for i in range(1000):
            stored.append(store.add(question=f"câu hỏi {i}", answer="trả lời " * 2500, useful=bool(i % 2)))
    assert "đầy" in str(err.value) and "các góp ý trước vẫn còn" in str(err.value)
    assert 0 < len(stored) < 1000
    assert all(store.get(fid) is not None for fid in stored)  # everything acknowledged is still there
    assert store.get(stored[-1]).question == f"câu hỏi {len(stored) - 1}"
    store.close()
