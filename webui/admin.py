"""Tab "Quản trị": after login, upload documents to ingest, see collection statistics, remove documents.

The tab exists only when ``settings.admin_user`` and ``settings.admin_password`` are both set. Logging in
sets a per-session server-side flag (``gr.State``, never sent by the browser); every admin action checks it.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shutil
import time
import unicodedata
from pathlib import Path
from typing import Any

import gradio as gr

from bot.answer.options import InputError
from ingest.loaders import SUPPORTED_EXTENSIONS
from settings import Settings
from vectorstore.records import vi_date
from webui import render
from webui.context import AppContext
from webui.guard import LOCKED_OUT, client_of

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An upload refused for a reason users can fix (message in Vietnamese)."""


def admin_enabled(settings: Settings) -> bool:
    password = settings.admin_password.get_secret_value() if settings.admin_password is not None else ""
    return bool(settings.admin_user) and bool(password)


def check_credentials(settings: Settings, user: str | None, password: str | None) -> bool:
    """Constant-time comparison of both fields (both are always compared)."""
    if not admin_enabled(settings):
        return False
    expected_password = settings.admin_password.get_secret_value()  # type: ignore[union-attr]
    user_ok = hmac.compare_digest((user or "").encode("utf-8"), str(settings.admin_user).encode("utf-8"))
    password_ok = hmac.compare_digest((password or "").encode("utf-8"), expected_password.encode("utf-8"))
    return user_ok and password_ok


def sanitize_filename(name: str) -> str:
    """A safe file name for the upload folder, or ``UploadError``.

    Keeps only the last path component (``/`` and ``\\`` both separate), transliterates Vietnamese to ASCII
    (``Nghị định 01.pdf`` -> ``Nghi_dinh_01.pdf``), replaces anything but letters, digits, ``.``, ``_`` and
    ``-`` with ``_``, strips leading dots (no hidden files, no ``..``), lower-cases the extension, which must be
    one of ``SUPPORTED_EXTENSIONS``, and bounds the length.
    """
    base = re.split(r"[\\/]", str(name or ""))[-1].strip().replace("\x00", "")
    base = unicodedata.normalize("NFKD", base.replace("đ", "d").replace("Đ", "D"))
    base = "".join(ch for ch in base if not unicodedata.combining(ch))
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = "." + _UNSAFE.sub("", ext).lower() if ext else ""
    if ext not in SUPPORTED_EXTENSIONS:
        shown = ext or "không có phần mở rộng"
        raise UploadError(f"Định dạng không hỗ trợ ({shown}); chỉ nhận: {', '.join(SUPPORTED_EXTENSIONS)}")
    stem = _UNSAFE.sub("_", stem).strip("._-")
    stem = re.sub(r"_{2,}", "_", stem).lstrip(".")
    if not stem:
        raise UploadError("Tên tệp không hợp lệ.")
    return stem[: MAX_NAME_CHARS - len(ext)] + ext


def upload_dir(settings: Settings) -> Path:
    return (Path(settings.data_dir) / "uploads").resolve()


def save_upload(settings: Settings, temp_path: str | os.PathLike[str], original_name: str | None = None) -> Path:
    """Check size and type of an uploaded file and copy it into the upload folder; return the new path."""
    source = Path(temp_path)
    name = sanitize_filename(original_name or source.name)
    size = source.stat().st_size
    limit = settings.upload_max_mb * 1024 * 1024
    if size > limit:
        raise UploadError(f"Tệp {name} quá lớn ({size / 1024 / 1024:.1f} MB; tối đa {settings.upload_max_mb} MB).")
    if size == 0:
        raise UploadError(f"Tệp {name} rỗng.")
    folder = upload_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if target.parent != folder:  # cannot happen after sanitising; checked anyway
        raise UploadError("Tên tệp không hợp lệ.")
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target


def _document_choices(ctx: AppContext) -> list[tuple[str, str]]:
    choices = []
    for d in ctx.engine.store.list_documents():
        kind = render.kind_words(d["kind"], d.get("comment_no"))
        title = " ".join(str(d["title"]).split())
        if len(title) > 90:
            title = title[:87] + "…"
        choices.append((f"{title} ({kind}; {d['doc_id']})", d["doc_id"]))
    return choices


def _stats(ctx: AppContext) -> str:
    return render.stats_html(ctx.engine.store.stats(), ctx.engine.store.list_documents())


def build_admin_tab(ctx: AppContext) -> None:
    settings = ctx.settings
    authed = gr.State(False)
    with gr.Column(visible=True, elem_id="admin-login") as login_box:
        gr.Markdown("### Đăng nhập quản trị\nChỉ quản trị viên mới được nạp hoặc xóa tài liệu.")
        user = gr.Textbox(label="Tên đăng nhập", max_length=200, elem_id="admin-user")
        password = gr.Textbox(label="Mật khẩu", type="password", max_length=200, elem_id="admin-password")
        login = gr.Button("Đăng nhập", variant="primary", elem_id="admin-login-btn")
        login_msg = gr.Markdown("", elem_id="admin-login-msg")
    with gr.Column(visible=False, elem_id="admin-panel") as panel:
        gr.Markdown(
            f"### Nạp tài liệu\nĐịnh dạng: {', '.join(SUPPORTED_EXTENSIONS)}; "
            f"tối đa {settings.upload_max_mb} MB mỗi tệp."
        )
        files = gr.File(
            label="Chọn tệp",
            file_count="multiple",
            file_types=list(SUPPORTED_EXTENSIONS),
            type="filepath",
            elem_id="admin-files",
        )
        ingest = gr.Button("Nạp vào kho", variant="primary", elem_id="admin-ingest")
        ingest_out = gr.HTML("", elem_id="admin-ingest-out")
        gr.Markdown("### Thống kê kho dữ liệu")
        stats = gr.HTML("", elem_id="admin-stats")
        gr.Markdown("### Đặt ngày hoặc xóa một tài liệu")
        doc = gr.Dropdown([], label="Tài liệu", elem_id="admin-doc", filterable=True)
        with gr.Row():
            date_value = gr.Textbox(
                label="Ngày ban hành / công bố (31/12/2020, 12/2020 hoặc 2020; được giữ khi nạp lại)",
                max_length=40,
                elem_id="admin-date",
                scale=3,
            )
            set_date = gr.Button("Lưu ngày", elem_id="admin-set-date", scale=1)
        date_out = gr.Markdown("", elem_id="admin-date-out")
        delete = gr.Button("Xóa tài liệu (cùng các bình luận của nó)", variant="stop", elem_id="admin-delete")
        delete_out = gr.Markdown("", elem_id="admin-delete-out")
        logout = gr.Button("Đăng xuất", size="sm", elem_id="admin-logout")

    def refused() -> tuple[Any, ...]:
        return render.error_html("Bạn cần đăng nhập quản trị."), gr.skip(), gr.skip()

    def do_login(u: str, p: str, request: gr.Request) -> tuple[Any, ...]:
        client = client_of(request)
        wait = ctx.logins.locked_for(client)
        ok = not wait and check_credentials(settings, u, p)
        if not ok:
            if not wait:
                time.sleep(1.0)  # slows down password guessing
                wait = ctx.logins.failed(client)
                log.warning("admin login failed from %s%s", client or "?", " (locked out)" if wait else "")
            message = LOCKED_OUT.format(seconds=round(wait)) if wait else "Sai tên đăng nhập hoặc mật khẩu."
            return (
                False,
                message,
                gr.update(visible=True),
                gr.update(visible=False),
                "",
                "",
                gr.update(),
                "",
            )
        ctx.logins.succeeded(client)
        return (
            True,
            "",
            gr.update(visible=False),
            gr.update(visible=True),
            _stats(ctx),
            "",
            gr.update(choices=_document_choices(ctx), value=None),
            "",
        )

    login_outputs = [authed, login_msg, login_box, panel, stats, ingest_out, doc, password]
    login.click(do_login, [user, password], login_outputs, api_visibility="private")
    password.submit(do_login, [user, password], login_outputs, api_visibility="private")

    def do_logout() -> tuple[Any, ...]:
        return (
            False,
            "Đã đăng xuất.",
            gr.update(visible=True),
            gr.update(visible=False),
            "",
            "",
            gr.update(choices=[], value=None),
            "",
        )

    logout.click(do_logout, None, login_outputs, api_visibility="private")

    def do_ingest(ok: bool, paths: list[str] | None) -> tuple[Any, ...]:
        if not ok:
            return refused()
        if not paths:
            return render.error_html("Chưa chọn tệp nào."), gr.skip(), gr.skip()
        from ingest.pipeline import Ingestor

        saved, problems = [], []
        for path in paths:
            try:
                saved.append(save_upload(settings, path))
            except (UploadError, OSError) as exc:
                problems.append(f"{Path(str(path)).name}: {exc}")
        report = ""
        if saved:
            engine = ctx.engine
            summary = Ingestor(engine.settings, embedder=engine.embedder, store=engine.store).run(saved)
            report = f'<pre class="ingest-summary">{render.esc(summary.render())}</pre>'
        if problems:
            report += (
                '<div class="answer error">Tệp bị từ chối:<br>'
                + "<br>".join(render.esc(p) for p in problems)
                + "</div>"
            )
        return report, _stats(ctx), gr.update(choices=_document_choices(ctx), value=None)

    ingest.click(do_ingest, [authed, files], [ingest_out, stats, doc], api_visibility="private")

    def do_delete(ok: bool, doc_id: str | None) -> tuple[Any, ...]:
        if not ok:
            return "Bạn cần đăng nhập quản trị.", gr.skip(), gr.skip()
        if not doc_id:
            return "Hãy chọn một tài liệu.", gr.skip(), gr.skip()
        store = ctx.engine.store
        listing = store.list_documents()
        if doc_id not in {d["doc_id"] for d in listing}:
            return "Tài liệu không còn trong kho.", _stats(ctx), gr.update(choices=_document_choices(ctx), value=None)
        ids = [doc_id] + [d["doc_id"] for d in listing if d.get("parent_id") == doc_id]
        chunks = store.delete_documents(ids)
        extra = f" và {len(ids) - 1} bình luận của nó" if len(ids) > 1 else ""
        message = f"Đã xóa tài liệu {render.esc(doc_id)}{extra} ({chunks} đoạn)."
        return message, _stats(ctx), gr.update(choices=_document_choices(ctx), value=None)

    delete.click(do_delete, [authed, doc], [delete_out, stats, doc], api_visibility="private")

    def do_set_date(ok: bool, doc_id: str | None, value: str) -> tuple[Any, ...]:
        if not ok:
            return "Bạn cần đăng nhập quản trị.", gr.skip()
        if not doc_id:
            return "Hãy chọn một tài liệu.", gr.skip()
        try:
            stored = ctx.engine.set_document_date(doc_id, value or "")
        except InputError as exc:
            return str(exc), gr.skip()
        return f"Đã lưu ngày {render.esc(vi_date(stored))} cho tài liệu {render.esc(doc_id)}.", _stats(ctx)

    set_date.click(do_set_date, [authed, doc, date_value], [date_out, stats], api_visibility="private")


__all__ = ["UploadError", "admin_enabled", "build_admin_tab", "check_credentials", "sanitize_filename", "save_upload"]
