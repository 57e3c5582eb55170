"""``python -m ingest PATH... [--store DIR] [--reset] [--prune] [--json] [--strict]``"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ingest.pipeline import Ingestor
from settings import Settings
from vectorstore.store import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Nạp tài liệu vào kho dữ liệu (Chroma).")
    parser.add_argument("paths", nargs="+", type=Path, help="tệp hoặc thư mục (đệ quy)")
    parser.add_argument("--store", type=Path, help="thư mục kho dữ liệu (mặc định: data/store)")
    parser.add_argument("--reset", action="store_true", help="xóa toàn bộ kho trước khi nạp")
    parser.add_argument("--prune", action="store_true", help="xóa tài liệu có tệp nguồn không còn tồn tại")
    parser.add_argument("--json", action="store_true", help="in tóm tắt dạng một đối tượng JSON")
    parser.add_argument("--strict", action="store_true", help="trả mã lỗi khác 0 nếu có bất kỳ lỗi nào")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    settings = Settings.load(store_dir=args.store)
    try:
        ingestor = Ingestor(settings)
        summary = ingestor.run(args.paths, reset=args.reset, prune=args.prune, progress=not args.json)
    except StoreError as exc:
        logging.getLogger("ingest").error("%s", exc.detail)
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.to_dict(), ensure_ascii=False) if args.json else summary.render())
    nothing_ingested = summary.documents == 0
    if nothing_ingested or (args.strict and summary.failures):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
