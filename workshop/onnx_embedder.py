"""An installed embedding model as ONNX (fp32 and int8) and OpenVINO IR, offline, once: ``python -m
workshop.onnx_embedder``.

The ecosystem's path (``SentenceTransformer(path, backend="onnx")`` and ``export_dynamic_quantized_onnx_model``)
goes through Optimum, and no Optimum release installs beside our transformers 5.25: optimum-onnx 0.1.0 wants
``transformers<4.58`` (and, forced in, fails on ``transformers.modeling_utils.get_parameter_dtype``), optimum-intel
2.2.0 wants ``transformers<5.6`` and ``huggingface-hub<1.22``. So the export uses the two tools Optimum itself wraps:
``torch.onnx.export`` (the dynamo exporter) over the whole sentence-transformers pipeline (encoder, mean pooling,
both Dense layers, L2 normalisation: one graph from token ids to the unit vector), and ONNX Runtime's own
quantisers. Everything is read from the installed, sha256-verified folder; nothing is downloaded.

Precisions, measured on EmbeddingGemma-300M (benchmarks/embedders.py prints the figures):

* ``fp32``: the exported graph. Vectors agree with torch's to ~1e-7 (max abs), so an fp32 ONNX store *is* a torch
  store (same recorded model name).
* ``int8``: weight-only int8 ``MatMulNBits`` (block 32, symmetric) with ``accuracy_level=4`` -- activations
  quantised per block of 32 inside the matmul. Plain dynamic quantisation (``quantize_dynamic``: int8 weights per
  channel, activations per tensor, what ``export_dynamic_quantized_onnx_model`` does) gave cosine 0.965-0.976 to
  torch's vectors: Gemma's activations have outliers that one scale per tensor cannot hold.

* ``openvino``: the fp32 graph converted to OpenVINO's IR (``openvino.save_model``) with its weights stored in fp16
  (615 MB, memory-mapped at load); OpenVINO runs it in bf16 where the CPU has bf16 units (AMX / AVX512-BF16) or
  fp32 (``embedding_precision``). Vectors: bf16 cosine to torch's min 0.9997, fp32 1.0000
  (benchmarks/onnx_agreement.py).

Both ONNX graphs keep their weights as external data (``*.onnx.data``), which ONNX Runtime maps into memory: only the
rows of the 262k-token embedding table that texts touch become resident (an fp32 session: 480 MB resident after
load, for 1.2 GB of weights; the int8 graph saved inline peaked at 1.7 GB while its protobuf was parsed).

The output folder ``<cache>/models/<model>-onnx/`` holds the graphs and ``cchc_onnx.json``: the sha256 of every
file, the source weights' sha256 and the tool versions. The runtime (``vectorstore.embeddings``) recomputes the
sha256 of the graph it loads and refuses a mismatch.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.models.install import file_sha256
from settings import Settings
from vectorstore.embeddings import INSTALLED_MODELS, ONNX_MANIFEST, TokenPieces, onnx_dir

log = logging.getLogger(__name__)

FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx", "openvino": "openvino_model.xml"}  # + .onnx.data / .bin
INT8_BLOCK = 32


def export_fp32(model_dir: Path, out: Path) -> Path:
    """The sentence-transformers folder ``model_dir`` as one ONNX graph ``input_ids, attention_mask ->
    sentence_embedding`` (batch and sequence dynamic), weights in ``model.onnx.data``."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True).eval()

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.st({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    sample = st.tokenize(["task: search result | query: thủ tục", "title: none | text: Điều 1. Phạm vi điều chỉnh"])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", min=2, max=int(st.max_seq_length or 2048))
    target = out / FILES["fp32"]
    torch.onnx.export(
        Pipeline().eval(),
        (sample["input_ids"], sample["attention_mask"]),
        str(target),
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding"],
        dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
        dynamo=True,
        external_data=True,
        opset_version=18,
    )
    return target


def quantize_int8(fp32: Path, target: Path) -> Path:
    """Weight-only int8 of every MatMul, activations quantised per block inside the kernel (see module doc)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=INT8_BLOCK, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=True)  # mmapped: see module doc
    return target


def convert_openvino(fp32: Path, target: Path) -> Path:
    """The fp32 graph as OpenVINO IR (``target`` .xml, weights beside it in a .bin), weights stored in fp16."""
    import openvino as ov

    ov.save_model(ov.Core().read_model(str(fp32)), str(target), compress_to_fp16=True)
    return target


PROBES = [  # where tokenizers differ: marks, no marks, NFD, English, numbers, emoji, spaces, a long text
    "Thủ tục cấp lại thẻ Căn cước công dân khi bị mất, lệ phí 70.000 đồng (Thông tư 59/2019/TT-BTC).",
    "thu tuc cap lai cccd o dau? UBND xa co nhan ho so khong",
    "Tho\u0302\u0309ng ti\u0301n ha\u0300nh chi\u0301nh",  # NFD
    "The e-Cabinet system saved 1,800 billion VND a year; PAR INDEX 2023 ranked Quang Ninh 1st.",
    "😀👍 ok!!!  ??\t\n  hai  khoảng   trắng",
    "Ｆｕｌｌｗｉｄｔｈ １２３ \u200b\u00a0",
    " ".join(["Điều 12. Thời hạn giải quyết là 15 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ."] * 60),
]


def tokenizer_record(model_dir: Path) -> dict[str, str]:
    """Which tokenizer the runtime may load without transformers: the model's SentencePiece file (~50 MB
    resident against ~290 MB for Gemma's tokenizer.json) when it gives transformers' ids, special tokens
    included, on every probe; else the fast tokenizer."""
    model = model_dir / "tokenizer.model"
    if not model.is_file():
        return {"kind": "tokenizers"}
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    pieces = TokenPieces.sentencepiece(model, config)  # exactly what the runtime will load
    for text in PROBES:
        if pieces.with_specials(text) != reference(text, truncation=False)["input_ids"]:
            log.info("sentencepiece differs from transformers on %r: tokenizer.json is used", text[:40])
            return {"kind": "tokenizers"}
    return {"kind": "sentencepiece", "sha256": file_sha256(model)}


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import openvino
    import torch

    return {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "openvino": openvino.__version__,
    }


def build(
    model_dir: Path, target: Path, precisions: Sequence[str] = ("fp32", "int8", "openvino"), force: bool = False
) -> Path:
    """Export ``model_dir`` (an installed, verified folder) into ``target`` atomically; idempotent unless ``force``.

    The manifest records each file's sha256 and the source weights' sha256 (from the install marker), so a
    reinstalled model with other weights is not served by stale graphs. A folder built from the same weights
    keeps its graphs: only the missing ones are built (no second fp32 export)."""
    marker = model_dir / "cchc_install.json"
    if not marker.is_file():
        raise FileNotFoundError(f"{model_dir} is not an installed model (no {marker.name})")
    source = json.loads(marker.read_text(encoding="utf-8"))
    manifest_file = target / ONNX_MANIFEST
    old: dict = {}
    if manifest_file.is_file() and not force:
        old = json.loads(manifest_file.read_text(encoding="utf-8"))
        if old.get("source_weights_sha256") != source.get("weights_sha256"):
            old = {}
        elif set(precisions) <= set(old.get("graphs", {})) and "tokenizer" in old:
            return target
    kept = [p for p in old.get("graphs", {}) if p in FILES]  # built from the same weights: kept as they are
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        seconds = dict(old.get("build_seconds", {})) if kept else {}
        fp32 = (target if "fp32" in kept else work) / FILES["fp32"]
        for precision in dict.fromkeys(("fp32", *precisions)):  # fp32 first: the others are built from it
            if precision in kept:
                continue
            started = time.perf_counter()
            if precision == "fp32":
                export_fp32(model_dir, work)
            elif precision == "int8":
                quantize_int8(fp32, work / FILES["int8"])
            else:
                convert_openvino(fp32, work / FILES["openvino"])
            seconds[precision] = round(time.perf_counter() - started, 1)
        for name in old.get("files", {}) if kept else ():  # linked after the builds: onnx refuses linked data
            if not (work / name).exists():
                os.link(target / name, work / name)  # the folder is replaced whole below: no copy of the weights
        files = {p.name: file_sha256(p) for p in sorted(work.iterdir()) if p.is_file()}
        manifest = {
            "model": source.get("name"),
            "source_weights_sha256": source.get("weights_sha256"),
            "graphs": {p: FILES[p] for p in FILES if FILES[p] in files},
            "files": files,
            "int8": {"method": "MatMulNBits", "bits": 8, "block_size": INT8_BLOCK, "accuracy_level": 4},
            "openvino": {"weights": "fp16", "inference": "bf16 where the CPU has it, else fp32 (a setting)"},
            "tokenizer": tokenizer_record(model_dir),
            "versions": {**old.get("versions", {}), **versions()} if kept else versions(),
            "build_seconds": seconds,
        }
        (work / ONNX_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for path in [work, *work.iterdir()]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.onnx_embedder", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="embeddinggemma", choices=sorted(INSTALLED_MODELS))
    parser.add_argument("--force", action="store_true", help="rebuild even if the graphs are there")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings.load()
    model_dir = settings.cache_path / "models" / INSTALLED_MODELS[args.name]
    try:
        print(build(model_dir, onnx_dir(model_dir), force=args.force))
    except FileNotFoundError as exc:
        print(
            f"Lỗi: mô hình {args.name} chưa được cài. Hãy chạy: "
            f"python -m bot.models install-embedder {args.name} --accept-terms",
            file=sys.stderr,
        )
        print(f"Detail: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
