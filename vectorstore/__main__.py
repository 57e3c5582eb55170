"""Store maintenance: copy an embedded store into the configured one (the shared servers) without re-embedding, or
embed the reader's sentence vectors of a store built before they existed (ingest does this itself):

CCHC_DATABASE_URL=postgresql://... CCHC_CHROMA_HOST=... python -m vectorstore copy-from data/store
python -m vectorstore fill-sentences [--store data/store]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from settings import Settings
from vectorstore.store import Store, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vectorstore", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    copy = commands.add_parser("copy-from", help="chép một kho nhúng (thư mục) vào kho đang cấu hình")
    copy.add_argument("folder", type=Path, help="thư mục kho nguồn (chứa documents.sqlite3 và chroma/)")
    copy.add_argument("--collection", default="cchc", help="tên bộ sưu tập Chroma của kho nguồn (mặc định cchc)")
    sentences = commands.add_parser("fill-sentences", help="nhúng các câu chưa có véc-tơ câu (cho bộ đọc)")
    sentences.add_argument("--store", type=Path, help="thư mục kho dữ liệu (mặc định: kho đang cấu hình)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "fill-sentences":
        return _fill_sentences(args.store)
    target_settings = Settings.load()
    source_settings = target_settings.model_copy(
        update={"store_dir": args.folder, "database_url": None, "chroma_host": None, "collection": args.collection}
    )
    if not (args.folder / "documents.sqlite3").is_file():
        print(f"Lỗi: {args.folder} không phải là một kho dữ liệu (thiếu documents.sqlite3).", file=sys.stderr)
        return 2
    try:
        source = Store(source_settings, source_settings.embedding_key)
        target = Store(target_settings, target_settings.embedding_key)
        chunks = source.copy_to(target)
    except StoreError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    print(f"Đã chép {chunks} đoạn ({target.stats()['documents']} tài liệu trong kho đích).")
    return 0


def _fill_sentences(folder: Path | None) -> int:
    from vectorstore.embeddings import Embedder
    from vectorstore.sentences import fill

    settings = Settings.load()
    if folder is not None:
        settings = settings.model_copy(update={"store_dir": folder})
    try:
        embedder = Embedder.from_settings(settings)
        store = Store(settings, embedder.name)
        added, dropped = fill(store, lambda texts: embedder.embed_passages(list(texts)))
    except StoreError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    print(f"Véc-tơ câu: nhúng thêm {added}, xóa {dropped} không còn dùng.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
