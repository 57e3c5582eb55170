"""How close EmbeddingGemma's ONNX graphs (and OpenVINO IR) are to torch, and what a session costs in memory.

    python benchmarks/onnx_agreement.py [--alternatives]

Embeds the first 64 pháp điển articles (title + text, passage prompt) and the first 20 citizen questions (query
prompt) with torch and with each graph built by ``python -m workshop.onnx_embedder``, and prints per graph the
cosine to torch's vectors (min / mean, passages and queries) and the largest absolute difference; then the peak
and resident memory of a process that only opens each graph's session. ``--alternatives`` also builds, in a
temporary folder, the int8 variants that were tried and not kept (dynamic int8 with and without the embedding
table, 4-bit weights) and measures them the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from settings import PROJECT_DIR, Settings
from vectorstore.embeddings import INSTALLED_MODELS, Embedder, OnnxSentenceEncoder, OpenVinoRunner, OrtRunner, onnx_dir

CORPUS = PROJECT_DIR.parent / "shared/corpus/phapdien/corpus.jsonl"
CITIZEN = PROJECT_DIR / "benchmarks/questions/phapdien_citizen.jsonl"
SESSION = """
import sys
from pathlib import Path
from vectorstore.embeddings import OpenVinoRunner, OrtRunner
OpenVinoRunner(Path(sys.argv[1]), sys.argv[2]) if sys.argv[1].endswith(".xml") else OrtRunner(Path(sys.argv[1]))
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024)
"""  # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child would report this (large) process's peak


def texts() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()[:64]]
    passages = [f"{r['title']}\n{r['text']}" for r in rows]
    questions = [json.loads(line)["question"] for line in CITIZEN.read_text(encoding="utf-8").splitlines()[:20]]
    return passages, questions


def alternatives(fp32: Path, out: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    made = {}
    for name, ops in (("dynamic-int8", ["MatMul"]), ("dynamic-int8+embeddings", ["MatMul", "Gather"])):
        target = out / f"{name}.onnx"
        quantize_dynamic(
            str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=ops,
            use_external_data_format=True,
        )  # fmt: skip
        made[name] = target
    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=4)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(out / "int4-weights.onnx"), use_external_data_format=True)
    made["int4-weights"] = out / "int4-weights.onnx"
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alternatives", action="store_true", help="also the int8 variants not kept")
    args = parser.parse_args()
    settings = Settings.load(embedding_model="embeddinggemma", embedding_backend="torch", embedding_precision="fp32")
    model_dir = settings.cache_path / "models" / INSTALLED_MODELS["embeddinggemma"]
    graphs = onnx_dir(model_dir)
    manifest = json.loads((graphs / "cchc_onnx.json").read_text(encoding="utf-8"))
    torch = Embedder.from_settings(settings)
    passages, questions = texts()
    reference = torch.embed_passages(passages), torch.embed_queries(questions)
    candidates = {f"onnx-{p}": (graphs / name, p) for p, name in manifest["graphs"].items() if p != "openvino"}
    if "openvino" in manifest["graphs"]:
        candidates.update({f"openvino-{p}": (graphs / manifest["graphs"]["openvino"], p) for p in ("fp32", "bf16")})
    tmp = tempfile.TemporaryDirectory(prefix="onnx-alternatives-")
    if args.alternatives:
        made = alternatives(graphs / manifest["graphs"]["fp32"], Path(tmp.name))
        candidates.update({name: (path, "int8") for name, path in made.items()})
    print(
        "| graph | passages cosine min / mean | queries cosine min / mean | max abs diff | session peak / resident MB |"
    )
    print("|---|---|---|---|---|")
    loaded = OnnxSentenceEncoder(model_dir, graphs, "fp32")  # tokenizer and config; each graph swaps the runner
    for name, (path, precision) in candidates.items():
        encoder = OnnxSentenceEncoder.__new__(OnnxSentenceEncoder)
        encoder.__dict__.update(loaded.__dict__)
        encoder.runner = OpenVinoRunner(path, precision) if path.suffix == ".xml" else OrtRunner(path)
        embedder = Embedder(encoder, name, torch.query_prompt, torch.passage_prompt)
        got = embedder.embed_passages(passages), embedder.embed_queries(questions)
        cos = [(a * b).sum(axis=1) for a, b in zip(got, reference)]
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, reference))
        memory = subprocess.run(
            [sys.executable, "-c", SESSION, str(path), precision],
            cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
        )  # fmt: skip
        peak, resident = memory.stdout.split()
        print(
            f"| {name} | {cos[0].min():.4f} / {cos[0].mean():.4f} | {cos[1].min():.4f} / {cos[1].mean():.4f} "
            f"| {diff:.1e} | {peak} / {resident} |",
            flush=True,
        )
        del encoder, embedder
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
