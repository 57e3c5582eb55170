"""Tab "Thử prompt": compare two prompt versions / retrieval settings on one question or a question file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from bot.answer.chain import Answer
from bot.answer.citations import is_valid
from bot.answer.options import AskOptions, Weights
from webui import render
from webui.context import AppContext

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"
LLM_GENERATORS = ("local", "openai")
MAX_FILE_QUESTIONS = 200
MAX_FILE_BYTES = 2 * 1024 * 1024


def prompt_choices() -> list[tuple[str, str]]:
    """("label", value) for the answer prompts: extractive (no prompt) plus every version of prompts/answer."""
    choices = [("extractive (trích nguyên văn, không dùng LLM)", EXTRACTIVE)]
    try:
        from prompts import list_prompts

        versions = list_prompts().get("answer", [])
    except Exception:
        log.warning("prompts are not available; only the extractive generator can be compared", exc_info=True)
        versions = []
    choices += [(f"answer@{v} (LLM)", v) for v in versions]
    return choices


@dataclass(frozen=True)
class LabConfig:
    prompt: str  # "extractive" or a version of prompts/answer
    llm: str  # generator used with a prompt version: local / openai
    k: int
    weight_dense: float
    weight_bm25: float
    weight_bm25_folded: float

    @property
    def generator(self) -> str:
        return EXTRACTIVE if self.prompt == EXTRACTIVE else self.llm

    def options(self) -> AskOptions:
        """The request options of this configuration (the engine, its index and model servers are shared)."""
        return AskOptions(
            k=self.k,
            weights=Weights(self.weight_dense, self.weight_bm25, self.weight_bm25_folded),
            generator=self.generator,  # type: ignore[arg-type]
            prompt_version=None if self.prompt == EXTRACTIVE else self.prompt,
        )

    def label(self) -> str:
        what = "extractive" if self.prompt == EXTRACTIVE else f"answer@{self.prompt} · {self.llm}"
        return (
            f"{what} · k={self.k} · trọng số dense/bm25/folded = "
            f"{self.weight_dense:g}/{self.weight_bm25:g}/{self.weight_bm25_folded:g}"
        )


def make_config(prompt: str, llm: str, k: float, wd: float, wb: float, wf: float, allowed: set[str]) -> LabConfig:
    if prompt not in allowed:
        raise gr.Error(f"Phiên bản prompt không hợp lệ: {prompt}")
    if llm not in LLM_GENERATORS:
        raise gr.Error(f"Bộ sinh không hợp lệ: {llm}")
    weights = [max(0.0, min(5.0, float(w or 0))) for w in (wd, wb, wf)]
    if not any(weights):
        raise gr.Error("Cần ít nhất một trọng số truy hồi lớn hơn 0.")
    return LabConfig(prompt, llm, max(1, min(30, int(k or 5))), *weights)


def answer_report_html(ctx: AppContext, name: str, cfg: LabConfig, answer: Answer) -> str:
    """Answer, citation check, retrieved chunks with scores and the rendered prompt of one configuration."""
    texts: dict[str, str | None] = {}

    def text_of(doc_id: str) -> str | None:
        if doc_id not in texts:
            doc = ctx.engine.store.get_document(doc_id)
            texts[doc_id] = doc.text if doc else None
        return texts[doc_id]

    checks, valid = [], 0
    for c in answer.citations:
        ok = is_valid(c, text_of(c.doc_id) or "")
        valid += ok
        checks.append(
            [
                c.n,
                render.Raw('<span class="valid">hợp lệ</span>' if ok else '<span class="invalid">KHÔNG hợp lệ</span>'),
                render.Raw(
                    f"<b>{render.esc(c.title)}</b> "
                    f'<span class="muted">({render.esc(render.kind_words(c.kind, c.comment_no))}; '
                    f"ký tự {c.char_start}–{c.char_end})</span><br>{render.esc_lines(c.quote)}"
                ),
            ]
        )
    chunks = [
        [
            i,
            f"{h.score:.4f}",
            "–" if h.dense is None else f"{h.dense:.3f}",
            render.Raw("<br>".join(f"{render.esc(k)}&nbsp;#{v}" for k, v in sorted(h.ranks.items())) or "–"),
            render.Raw(
                f"<b>{render.esc(h.chunk.title)}</b> "
                f'<span class="muted">({render.esc(render.kind_words(h.chunk.kind, h.chunk.comment_no))}; '
                f"ký tự {h.chunk.char_start}–{h.chunk.char_end})</span><br>{render.esc_lines(h.chunk.text)}"
            ),
        ]
        for i, h in enumerate(answer.hits, start=1)
    ]
    notices = "".join(f'<div class="notice">{render.esc(n)}</div>' for n in answer.notices)
    dropped = (
        "<details><summary>Câu bị loại vì không có nguồn khớp ({})</summary><ul>{}</ul></details>".format(
            len(answer.dropped_claims), "".join(f"<li>{render.esc(d)}</li>" for d in answer.dropped_claims)
        )
        if answer.dropped_claims
        else ""
    )
    prompt = (
        f"<pre>{render.esc(answer.rendered_prompt)}</pre>"
        if answer.rendered_prompt
        else '<p class="muted">Bộ sinh extractive không dùng prompt: câu trả lời là các câu trích nguyên văn.</p>'
    )
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items())
    return (
        f'<div class="lab-result" data-config="{render.esc(name)}">'
        f'<h3>Cấu hình {render.esc(name)}</h3><p class="muted">{render.esc(cfg.label())}</p>'
        f"<p><b>Phiên bản:</b> <code>{render.esc(answer.prompt_version)}</code> · "
        f"<b>bộ sinh:</b> {render.esc(answer.generator)}"
        f" · {render.esc(timings)}</p>"
        f'<p><b>Khả năng trả lời (reader):</b> <span class="answerability">{answer.answerability:.2f}</span>'
        f"{' · lý do từ chối: ' + render.esc(answer.refusal.reason) if answer.refusal else ''}</p>"
        f"<p><b>Câu hỏi độc lập:</b> {render.esc(answer.standalone_question)}</p>{notices}"
        f"<h4>Câu trả lời{' (từ chối)' if answer.refused else ''}</h4>"
        f'<div class="answer{" refusal" if answer.refused else ""}">{render.plain_answer_html(answer.answer)}</div>'
        f"<h4>Kiểm tra trích dẫn: {valid}/{len(checks)} hợp lệ</h4>"
        + (
            render.table_html(["n", "Kiểm tra", "Tài liệu và trích dẫn"], checks, "citations")
            if checks
            else '<p class="muted">Không có trích dẫn.</p>'
        )
        + dropped
        + f"<details open><summary>Đoạn truy hồi ({len(chunks)}) và điểm</summary>"
        + render.table_html(
            ["#", "Điểm RRF", "Cosine", "Hạng từng nhánh", "Tài liệu và nội dung đoạn"], chunks, "chunks"
        )
        + "</details>"
        + f"<details><summary>Prompt đã gửi</summary>{prompt}</details></div>"
    )


def load_question_file(path: str | None) -> list[dict[str, Any]]:
    from bot.eval import load_questions

    if not path:
        raise gr.Error("Hãy chọn một tệp câu hỏi .jsonl.")
    file = Path(path)
    if file.suffix.lower() != ".jsonl":
        raise gr.Error("Tệp câu hỏi phải có đuôi .jsonl.")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise gr.Error(f"Tệp câu hỏi quá lớn (tối đa {MAX_FILE_BYTES // 1024 // 1024} MB).")
    try:
        rows = load_questions(file)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise gr.Error(f"Tệp câu hỏi không đúng định dạng JSONL của bot.eval: {exc}") from exc
    if not rows:
        raise gr.Error("Tệp câu hỏi không có dòng nào.")
    return rows[:MAX_FILE_QUESTIONS]


def file_report(
    configs: dict[str, LabConfig], results: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]
) -> tuple[str, str]:
    """(Markdown metrics from bot.eval, an HTML per-question table)."""
    from bot.eval import markdown, report

    summary = report(results)
    legend = "\n".join(f"- **{name}**: {cfg.label()}" for name, cfg in configs.items())
    md = markdown(summary, f"Kết quả trên {len(rows)} câu hỏi") + "\n" + legend + "\n"
    headers = ["id", "Câu hỏi"]
    for name in results:
        headers += [f"{name}: trả lời", f"{name}: trích dẫn hợp lệ"]
    table_rows = []
    for i, row in enumerate(rows):
        cells: list[Any] = [row["id"], row["question"]]
        for records in results.values():
            r = records[i]
            ans = "(từ chối) " if r.get("refused") else ""
            cells += [
                ans + (r.get("answer") or "")[:400],
                f"{r.get('citations', 0) - r.get('invalid_citations', 0)}/{r.get('citations', 0)}",
            ]
        table_rows.append(cells)
    return md, render.table_html(headers, table_rows, "per-question")


def _config_controls(
    title: str,
    default_prompt: str,
    default_k: int,
    choices: list[tuple[str, str]],
    ctx: AppContext,
    enabled: bool | None = None,
) -> tuple[Any, ...]:
    s = ctx.settings
    with gr.Column(min_width=260):
        gr.Markdown(f"### Cấu hình {title}")
        enable = (
            gr.Checkbox(value=enabled, label=f"So sánh với cấu hình {title}", elem_id=f"lab-enable-{title}")
            if enabled is not None
            else None
        )
        prompt = gr.Dropdown(
            choices, value=default_prompt, label="Prompt / bộ sinh câu trả lời", elem_id=f"lab-prompt-{title}"
        )
        llm = gr.Dropdown(
            list(LLM_GENERATORS),
            value="local" if s.generator == EXTRACTIVE else s.generator,
            label="LLM dùng với prompt (khi không phải extractive)",
            elem_id=f"lab-llm-{title}",
        )
        k = gr.Slider(1, 30, value=default_k, step=1, label="Số đoạn truy hồi k", elem_id=f"lab-k-{title}")
        with gr.Row():
            dense, bm25, folded = s.fusion_weights
            wd = gr.Number(dense, label="Trọng số dense", minimum=0, maximum=5, step=0.1, min_width=80)
            wb = gr.Number(bm25, label="Trọng số BM25", minimum=0, maximum=5, step=0.1, min_width=80)
            wf = gr.Number(folded, label="BM25 không dấu", minimum=0, maximum=5, step=0.1, min_width=80)
    return enable, (prompt, llm, k, wd, wb, wf)


def build_lab_tab(ctx: AppContext) -> None:
    choices = prompt_choices()
    allowed = {value for _, value in choices}
    versions = [value for _, value in choices if value != EXTRACTIVE]
    s = ctx.settings
    default_a = (
        s.prompt_version
        if s.generator != EXTRACTIVE and s.prompt_version in allowed
        else (versions[-1] if s.generator != EXTRACTIVE and versions else EXTRACTIVE)
    )
    gr.Markdown(
        "Chọn một hoặc hai cấu hình (phiên bản prompt và tham số truy hồi), rồi chạy một câu hỏi hoặc cả "
        "một tệp câu hỏi theo định dạng JSONL của `bot.eval` để so sánh."
    )
    question = gr.Textbox(label="Câu hỏi", lines=2, max_lines=6, max_length=1000, elem_id="lab-question")
    with gr.Row(equal_height=False):
        _, controls_a = _config_controls("A", default_a, s.k, choices, ctx)
        enable_b, controls_b = _config_controls(
            "B",
            EXTRACTIVE if default_a != EXTRACTIVE else (versions[-1] if versions else EXTRACTIVE),
            s.k if versions else max(1, s.k * 2),
            choices,
            ctx,
            enabled=True,
        )
    with gr.Row():
        run_one = gr.Button("Chạy câu hỏi", variant="primary", elem_id="lab-run")
    with gr.Accordion("Chạy một tệp câu hỏi (JSONL)", open=False):
        file = gr.File(label="Tệp câu hỏi .jsonl", file_types=[".jsonl"], type="filepath", elem_id="lab-file")
        run_file = gr.Button("Chạy tệp câu hỏi", elem_id="lab-run-file")
    status = gr.Markdown("", elem_id="lab-status")
    with gr.Row(equal_height=False):
        out_a = gr.HTML("", elem_id="lab-out-A", min_width=300)
        out_b = gr.HTML("", elem_id="lab-out-B", min_width=300)
    metrics = gr.Markdown("", elem_id="lab-metrics")
    per_question = gr.HTML("", elem_id="lab-per-question")

    def configs(values: tuple[Any, ...]) -> dict[str, LabConfig]:
        a, use_b, b = values[:6], values[6], values[7:13]
        out = {"A": make_config(*a, allowed=allowed)}  # type: ignore[misc]
        if use_b:
            out["B"] = make_config(*b, allowed=allowed)  # type: ignore[misc]
        return out

    def run_question(*values: Any) -> Iterator[tuple[Any, ...]]:
        text = " ".join((values[-1] or "").split())
        if not text:
            raise gr.Error("Hãy nhập một câu hỏi.")
        cfgs = configs(values[:-1])
        ctx.readiness.wait(600)
        outputs = {"A": "", "B": ""}
        for name, cfg in cfgs.items():
            yield f"Đang chạy cấu hình {name}…", outputs["A"], outputs["B"], "", ""
            try:
                answer = ctx.engine.ask(text, cfg.options())
            except Exception as exc:
                log.exception("lab ask failed")
                outputs[name] = render.error_html(f"Cấu hình {name} lỗi: {exc}")
                continue
            outputs[name] = answer_report_html(ctx, name, cfg, answer)
        yield "Xong.", outputs["A"], outputs["B"], "", ""

    def run_questions(*values: Any) -> Iterator[tuple[Any, ...]]:
        from bot.eval import evaluate

        cfgs = configs(values[:-1])
        rows = load_question_file(values[-1])
        ctx.readiness.wait(600)
        results: dict[str, list[dict[str, Any]]] = {}
        for name, cfg in cfgs.items():
            yield f"Đang chạy {len(rows)} câu hỏi với cấu hình {name}…", "", "", gr.skip(), gr.skip()
            results[name] = evaluate(ctx.engine, rows, max(10, cfg.k), cfg.options())
        md, table = file_report(cfgs, results, rows)
        yield f"Xong: {len(rows)} câu hỏi.", "", "", md, table

    inputs = [*controls_a, enable_b, *controls_b]
    outputs = [status, out_a, out_b, metrics, per_question]
    limits: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_limit": 1,  # a developer's run at a time; citizens' answers have their own slots
        "concurrency_id": "lab",
    }
    run_one.click(run_question, [*inputs, question], outputs, **limits)
    question.submit(run_question, [*inputs, question], outputs, **limits)
    run_file.click(run_questions, [*inputs, file], outputs, **limits)


__all__ = [
    "LabConfig",
    "answer_report_html",
    "build_lab_tab",
    "file_report",
    "load_question_file",
    "make_config",
    "prompt_choices",
]
