"""Tab "Tra cứu nguyên văn": where do the documents say this phrase, and with which exact words."""

from __future__ import annotations

import gradio as gr

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
            search = gr.Button("Tra cứu", variant="primary", elem_id="wording-search")
    results = gr.HTML(render.wording_results_html("", []), elem_id="wording-results")

    def run(text: str, n: float) -> str:
        text = (text or "").strip()
        if not text:
            return render.wording_results_html("", [])
        if not ctx.readiness.wait(600):
            return render.error_html("Hệ thống chưa sẵn sàng.")
        matches = ctx.engine.lookup_wording(text, limit=int(n or 10))
        return render.wording_results_html(text, matches)

    for trigger in (phrase.submit, search.click):
        trigger(run, [phrase, limit], results, api_visibility="private")


__all__ = ["build_wording_tab"]
