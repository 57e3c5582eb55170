"""EmbeddingGemma through ONNX Runtime (``embedding_backend="onnx"``): vectors close to torch's, stores that refuse
to mix precisions, and one thread per forward.

Needs the model installed and exported (``scripts/install.sh --accept-gemma-terms`` runs both); otherwise these
tests skip and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from settings import PROJECT_DIR, Settings
from tests.conftest import unavailable
from vectorstore.embeddings import (
    INSTALLED_MODELS,
    ONNX_MANIFEST,
    Embedder,
    EmbedderUnavailable,
    installed_model_dir,
    onnx_dir,
)
from vectorstore.store import Store, StoreError

TEXTS = [
    "Công an cấp huyện tiếp nhận hồ sơ đề nghị cấp lại thẻ Căn cước công dân khi thẻ bị mất.",
    "Lệ phí đăng ký kết hôn được miễn cho công dân Việt Nam cư trú trong nước.",
    "Điều 12. Thời hạn giải quyết: 15 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ; trường hợp phải xác minh thì "
    "thời hạn được kéo dài nhưng không quá 30 ngày.",
    "Bộ Tư pháp dẫn đầu Chỉ số cải cách hành chính năm 2023 của các bộ, cơ quan ngang bộ.",
]
QUESTIONS = ["Mất thẻ căn cước thì xin cấp lại ở đâu?", "mat the can cuoc thi xin cap lai o dau"]


def gemma_settings(cache_dir: Path, **update: object) -> Settings:
    """EmbeddingGemma in fp32 unless ``update`` names a precision (the default, bf16, needs OpenVINO)."""
    return Settings(cache_dir=cache_dir, embedding_model="embeddinggemma", embedding_precision="fp32").model_copy(
        update=update
    )


@pytest.fixture(scope="module")
def embedders(cache_dir: Path) -> dict[str, Embedder]:
    installed = installed_model_dir(cache_dir / "models" / INSTALLED_MODELS["embeddinggemma"])
    if installed is None:
        unavailable("EmbeddingGemma not installed: python -m bot.models install-embedder embeddinggemma --accept-terms")
    manifest = onnx_dir(installed) / ONNX_MANIFEST
    if not manifest.is_file() or "openvino" not in json.loads(manifest.read_text(encoding="utf-8"))["graphs"]:
        unavailable("EmbeddingGemma's ONNX / OpenVINO export not built: python -m workshop.onnx_embedder")
    return {
        "torch": Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="torch")),
        "fp32": Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="onnx")),
        "int8": Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="onnx", embedding_precision="int8")),
        "openvino": Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="openvino")),
        "bf16": Embedder.from_settings(
            gemma_settings(cache_dir, embedding_backend="openvino", embedding_precision="bf16")
        ),
    }


def test_onnx_vectors_are_close_to_torch(embedders: dict[str, Embedder]) -> None:
    """Measured: ONNX fp32 agrees to ~1e-7 (max abs), OpenVINO fp32 (weights stored in fp16) to ~2e-4, bf16 at
    cosine >= 0.9997 and int8 >= 0.9996 on pháp điển articles and citizen questions."""
    reference = embedders["torch"].embed_passages(TEXTS)
    queries = np.stack([embedders["torch"].embed_query(q) for q in QUESTIONS])
    for precision, floor in (("fp32", 0.99999), ("openvino", 0.9999), ("int8", 0.99), ("bf16", 0.99)):
        embedder = embedders[precision]
        assert embedder.dim == 768 and embedder.query_prompt == embedders["torch"].query_prompt
        vectors = embedder.embed_passages(TEXTS)
        assert (vectors * reference).sum(axis=1).min() >= floor, precision
        mine = np.stack([embedder.embed_query(q) for q in QUESTIONS])
        assert (mine * queries).sum(axis=1).min() >= floor, precision
        scores, torch_scores = vectors @ mine.T, reference @ queries.T
        clear = np.sort(torch_scores, axis=0)[-1] - np.sort(torch_scores, axis=0)[-2] > 0.01  # not a near tie
        assert clear.any() and np.array_equal(scores.argmax(axis=0)[clear], torch_scores.argmax(axis=0)[clear])
        assert int(np.argmax(scores[:, 0])) == 0  # the answering passage still ranks first (marked question)


def test_onnx_tokenizer_matches_transformers(embedders: dict[str, Embedder]) -> None:
    """The ONNX path tokenizes without transformers (no torch; EmbeddingGemma's SentencePiece model, which the
    export step checked): the same ids, mask and counts as transformers' tokenizer with ``padding=True,
    truncation="longest_first"``, a text longer than the model's window included (SentencePiece and tokenizer.json
    agreed on 11,400 texts of our corpora, pháp điển and questions when written; only literal "<bos>" text differs)."""
    from transformers import AutoTokenizer

    encoder = embedders["fp32"].model
    manifest = json.loads((onnx_dir(encoder.model_dir) / ONNX_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["tokenizer"]["kind"] == "sentencepiece"
    reference = AutoTokenizer.from_pretrained(str(encoder.model_dir), local_files_only=True)
    too_long = " ".join(TEXTS) * 120  # ~10k tokens, cut to max_seq_length with <eos> kept last
    for batch in (TEXTS, [too_long, "ngắn"], ["", "😀👍 ok", "thu tuc cap lai cccd"]):
        mine = encoder.tokenize(batch)
        theirs = reference(
            batch, padding=True, truncation="longest_first", max_length=encoder.max_seq_length, return_tensors="np"
        )
        assert np.array_equal(mine["input_ids"], theirs["input_ids"])
        assert np.array_equal(mine["attention_mask"], theirs["attention_mask"])
        assert encoder.count(batch) == [len(ids) for ids in reference(batch, truncation=False)["input_ids"]]
    assert encoder.count([too_long])[0] > encoder.max_seq_length == encoder.tokenize([too_long])["input_ids"].shape[1]


@pytest.mark.parametrize(("backend", "precision"), [("onnx", "fp32"), ("openvino", "bf16")])
def test_onnx_embedder_does_not_load_torch(
    embedders: dict[str, Embedder], cache_dir: Path, backend: str, precision: str
) -> None:
    """torch and transformers cost ~240 MB resident: the ONNX and OpenVINO runtimes must not import them."""
    script = (
        "import sys; from settings import Settings; from vectorstore.embeddings import Embedder\n"
        f"s = Settings(cache_dir={str(cache_dir)!r}, embedding_model='embeddinggemma', embedding_backend={backend!r},"
        f" embedding_precision={precision!r})\n"
        "e = Embedder.from_settings(s); e.embed_passages(['Thủ tục hành chính', 'Căn cước']); e.embed_query('a')\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr[-2000:]


def test_names_and_stores_keep_precisions_apart(
    embedders: dict[str, Embedder], tmp_path: Path, cache_dir: Path
) -> None:
    assert embedders["torch"].name == embedders["fp32"].name == embedders["openvino"].name == "embeddinggemma"
    assert embedders["int8"].name == "embeddinggemma+int8" and embedders["bf16"].name == "embeddinggemma+bf16"
    default = Settings(cache_dir=cache_dir, embedding_model="embeddinggemma")
    assert default.embedding_runtime == ("openvino", "bf16") and default.embedding_key == "embeddinggemma+bf16"
    fp32 = gemma_settings(cache_dir, data_dir=tmp_path, embedding_backend="onnx")
    Store(fp32, fp32.embedding_key).close()
    torch = fp32.model_copy(update={"embedding_backend": "torch"})
    Store(torch, torch.embedding_key).close()  # torch and fp32 ONNX: the same vectors, the same store
    int8 = fp32.model_copy(update={"embedding_backend": "onnx", "embedding_precision": "int8"})
    with pytest.raises(StoreError) as err:
        Store(int8, int8.embedding_key)
    assert "Không thể trộn hai mô hình" in str(err.value) and "embeddinggemma+int8" in str(err.value)
    assert int8.embedding_space == fp32.embedding_key == "embeddinggemma"  # classifiers fitted on fp32 still apply
    bf16 = fp32.model_copy(update={"embedding_backend": "openvino", "embedding_precision": "bf16"})
    with pytest.raises(StoreError) as err:
        Store(bf16, bf16.embedding_key)
    assert "embeddinggemma+bf16" in str(err.value) and bf16.embedding_space == "embeddinggemma"
    assert "CCHC_EMBEDDING_PRECISION=fp32" in str(err.value)  # the fix names the setting that differs
    openvino_fp32 = fp32.model_copy(update={"embedding_backend": "openvino"})
    Store(openvino_fp32, openvino_fp32.embedding_key).close()  # fp32 on OpenVINO reads the same store


def test_int8_needs_the_onnx_backend_and_bf16_openvino(cache_dir: Path) -> None:
    with pytest.raises(EmbedderUnavailable) as err:
        Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="torch", embedding_precision="int8"))
    assert "CCHC_EMBEDDING_BACKEND=onnx" in str(err.value)
    with pytest.raises(EmbedderUnavailable) as err:
        Embedder.from_settings(gemma_settings(cache_dir, embedding_backend="onnx", embedding_precision="bf16"))
    assert "CCHC_EMBEDDING_BACKEND=openvino" in str(err.value)


def test_not_exported_says_how_to_build(tmp_path: Path, cache_dir: Path) -> None:
    installed = cache_dir / "models" / INSTALLED_MODELS["embeddinggemma"]
    if installed_model_dir(installed) is None:
        unavailable("EmbeddingGemma not installed: python -m bot.models install-embedder embeddinggemma --accept-terms")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / installed.name).symlink_to(installed)  # installed, but no ONNX export beside it
    with pytest.raises(EmbedderUnavailable) as err:
        Embedder.from_settings(gemma_settings(tmp_path, embedding_backend="onnx"))
    assert "python -m workshop.onnx_embedder" in str(err.value)


def test_models_without_an_export_run_torch_fp32_whatever_the_runtime_setting() -> None:
    """The runtime settings apply to ONNX_MODELS only: e5-small (the test suite's model) keeps its store name."""
    from settings import E5_SMALL

    e5 = Settings(embedding_model=E5_SMALL, embedding_backend="onnx", embedding_precision="int8")
    assert e5.embedding_runtime == ("torch", "fp32") and e5.embedding_key == E5_SMALL
    gemma = Settings(embedding_model="embeddinggemma", embedding_backend="onnx", embedding_precision="int8")
    assert gemma.embedding_runtime == ("onnx", "int8") and gemma.embedding_key == "embeddinggemma+int8"
    assert gemma.model_copy(update={"embedding_dim": 256}).embedding_key == "embeddinggemma@256+int8"
