"""Copy an embedded store into the configured one (the shared servers), without re-embedding:

CCHC_DATABASE_URL=postgresql://... CCHC_CHROMA_HOST=... python -m vectorstore copy-from data/store
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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


if __name__ == "__main__":
    sys.exit(main())
