"""Tab "Tra cứu nguyên văn": where do the documents say this phrase, and with which exact words."""

from __future__ import annotations

import gradio as gr

from bot.answer.timeline import dates_label, replaced_note
from bot.wording import MAX_PHRASE_CHARS
from webui import render
from webui.context import AppContext


def build_wording_tab(ctx: AppContext) -> None:
    gr.Markdown(
        "Dán hoặc gõ một cụm từ, câu văn (có dấu hoặc không dấu). Kết quả trùng nguyên văn hiện trước, sau đó là "
        "những câu có cách diễn đạt gần nhất, kèm cả đoạn văn, vị trí trong tài liệu và phần khác biệt: "
        "<del>chữ bạn gõ mà tài liệu không có</del>, <ins>chữ tài liệu viết</ins>."
    )
    with gr.Row(equal_height=True):
        phrase = gr.Textbox(
            show_label=False,
            placeholder="Ví dụ: cham dut tinh trang khong dam lam",
            lines=2,
            max_lines=8,
            max_length=MAX_PHRASE_CHARS,
            scale=5,
            min_width=200,
            elem_id="wording-phrase",
        )
        with gr.Column(scale=1, min_width=120):
            limit = gr.Slider(1, 30, value=10, step=1, label="Số kết quả tối đa", elem_id="wording-limit")
            in_force = gr.Checkbox(False, label="Chỉ văn bản còn hiệu lực", elem_id="wording-in-force")
            search = gr.Button("Tra cứu", variant="primary", elem_id="wording-search")
    results = gr.HTML(render.wording_results_html("", []), elem_id="wording-results")

    def run(text: str, n: float, only_in_force: bool) -> str:
        text = (text or "").strip()
        if not text:
            return render.wording_results_html("", [])
        if not ctx.readiness.wait(600):
            return render.error_html("Hệ thống chưa sẵn sàng.")
        matches = ctx.engine.lookup_wording(text, limit=int(n or 10), in_force_only=bool(only_in_force))
        chronology = ctx.engine.snapshot().chronology
        dates = {}
        for m in matches:
            t, replaced = chronology.of(m.doc_id), chronology.replaced_by(m.doc_id)
            dates[m.doc_id] = (
                dates_label(t.date, t.effective, t.number, m.doc_kind),
                replaced_note(replaced) if replaced else "",
            )
        return render.wording_results_html(text, matches, dates)

    for trigger in (phrase.submit, search.click):
        trigger(run, [phrase, limit, in_force], results, api_visibility="private")


__all__ = ["build_wording_tab"]
