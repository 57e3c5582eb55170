"""The web app in a real browser: Playwright (sync API) driving /usr/bin/chromium against the app served
in-process on a free loopback port over a fresh store (the app ingests the bundled sample itself).

A failing test leaves a full-page screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from settings import PROJECT_DIR
from tests.app.fixtures import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CHROMIUM,
    CHROMIUM_ARGS,
    XSS_PAYLOAD,
    choose,
    local_llm_problem,
    running_app,
    sample_text,
    screenshot_on_failure,
    squash,
)
from tests.conftest import unavailable

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")


TIMEOUT_MS = 90_000
WATCH_STREAMING = """() => {
  window.__streamed = [];
  new MutationObserver(() => {
    document.querySelectorAll('#chatbot .answer.streaming').forEach(
      e => window.__streamed.push({text: e.textContent, cites: e.querySelectorAll('a.cite').length}));
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder):
    with running_app(tmp_path_factory.mktemp("browser"), embedder, llm_size="0.5b") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser: Any, served: Any, request: pytest.FixtureRequest, **context: Any) -> Iterator[Any]:
    ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    failed_before = request.session.testsfailed
    page.goto(served.url)
    page.wait_for_selector("#status [data-state=ready]")
    yield page
    screenshot_on_failure(request, page, failed_before)
    ctx.close()


@pytest.fixture()
def page(browser: Any, served: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _open(browser, served, request)


@pytest.fixture()
def phone(browser: Any, served: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _open(browser, served, request, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


def ask(page: Any, question: str, answers_before: int) -> Any:
    page.locator("#question textarea").fill(question)
    page.click("#send")
    page.wait_for_function(
        "n => document.querySelectorAll('#chatbot .answer:not(.streaming)').length > n", arg=answers_before
    )
    return page.locator("#chatbot .answer:not(.streaming)").nth(answers_before)


def textbox(page: Any, elem_id: str) -> Any:
    return page.locator(f"#{elem_id}").locator("input, textarea").first


# --- citizens: Hỏi đáp ------------------------------------------------------------------------------------------


def test_chat_streams_cites_follows_up_and_takes_feedback(page: Any, served: Any) -> None:
    sample = squash(sample_text())
    page.evaluate(WATCH_STREAMING)
    answer = ask(page, "Nguyên nhân chính của những tồn tại, hạn chế trong cải cách hành chính là gì?", 0)
    assert page.evaluate("window.__streamed.length") > 0, "no streamed (partial) answer was shown"
    drafts = [s for s in page.evaluate("window.__streamed") if "Đang tìm" not in s["text"]]
    assert drafts and all("đang kiểm chứng" in s["text"] and s["cites"] == 0 for s in drafts)  # a draft, not an answer
    assert "đang kiểm chứng" not in answer.inner_text()  # the verified answer replaced it
    assert "chủ quan" in answer.inner_text()
    cites = answer.locator("a.cite")
    assert cites.count() >= 1
    marks = page.locator("#sources mark")
    assert marks.count() >= 1
    for text in marks.all_inner_texts():
        assert squash(text) in sample, f"highlighted citation not in the sample: {text!r}"
    source = page.locator("#sources .source").first
    assert re.search(r"bài phát biểu|bài viết|bình luận số \d+|văn bản pháp luật", source.inner_text())

    # every [n] is clickable: it opens and flashes the cited passage in the sources panel
    href = cites.first.get_attribute("href")
    assert href and href.startswith("#cite-0-")
    cites.first.click()
    target = page.locator(href)
    page.wait_for_function("id => document.getElementById(id).classList.contains('flash')", arg=href[1:])
    assert target.is_visible()

    # a follow-up is answered with the conversation as history
    follow = ask(page, "Còn nguyên nhân khách quan thì sao?", 1)
    assert follow.inner_text().strip()
    assert page.locator("#sources details.turn-sources").count() == 2
    assert page.locator("#sources details.turn-sources[open]").count() == 1
    assert (
        page.locator("#chatbot a.cite[href^='#cite-1-']").count() + page.locator("#chatbot .answer.refusal").count()
        >= 1
    )

    # an older answer's [n] opens its (folded) block
    page.locator("#chatbot a.cite[href^='#cite-0-']").first.click()
    page.wait_for_function("() => document.querySelector('#sources details[data-turn=\"0\"]').open")

    # feedback on the latest answer, with a reason, is stored durably
    textbox(page, "fb-reason").fill("Thiếu ví dụ cụ thể")
    page.click("#fb-not-useful")
    page.wait_for_selector("#feedback-status :text('Cảm ơn')")
    record = served.context.feedback.recent(1)[0]
    assert record.question == "Còn nguyên nhân khách quan thì sao?"
    assert record.useful is False and record.reason == "Thiếu ví dụ cụ thể" and record.prompt_version

    # the chatbot's own thumbs rate a specific (here: the first) answer
    page.locator("#chatbot button[aria-label='Like']").first.click()
    page.wait_for_selector("#feedback-status :text('câu trả lời 1 là')")
    first = served.context.feedback.recent(1)[0]
    assert first.useful is True and first.question.startswith("Nguyên nhân chính")

    # an example question is asked with one click
    page.locator(".example-q").first.click()
    page.wait_for_function("() => document.querySelectorAll('#chatbot .answer:not(.streaming)').length > 2")
    assert page.evaluate("typeof window.__xss") == "undefined"

    # a new conversation starts from scratch
    page.click("#new-chat")
    page.wait_for_function("() => document.querySelectorAll('#chatbot .answer').length === 0")
    assert page.locator("#sources .source").count() == 0
    ask(page, "Thủ tướng yêu cầu chấm dứt tình trạng gì?", 0)
    assert page.locator("#chatbot .answer").count() == 1


def test_phone_width(phone: Any) -> None:
    answer = ask(phone, "Thu tuong yeu cau cham dut tinh trang gi?", 0)
    assert answer.locator("a.cite").count() >= 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 392, "the page scrolls sideways at 390 px"
    phone.locator("#chatbot a.cite").first.click()
    phone.wait_for_function("() => document.querySelector('#sources .source.flash') !== null")
    box = phone.locator("#sources").bounding_box()
    assert box and box["width"] <= 390


def test_a_citizens_first_minute_greeting_thanks_off_topic_and_two_unrelated_questions(phone: Any) -> None:
    """At phone width: a greeting, an off-topic request and thanks get our own reply (no [n], no sources); two
    unrelated questions in a row, the second opening like a follow-up, are each answered as themselves."""
    hello = ask(phone, "xin chào", 0)
    assert "cải cách hành chính" in hello.inner_text() and hello.locator("a.cite").count() == 0
    pho = ask(phone, "Cách nấu phở bò ngon?", 1)
    assert "ngoài phạm vi" in pho.inner_text() and pho.locator("a.cite").count() == 0
    meeting = ask(phone, "Phien hop thu tu cua Ban chi dao cai cach hanh chinh dien ra ngay nao?", 2)
    assert "19/4/2023" in meeting.inner_text() and meeting.locator("a.cite").count() >= 1
    deadline = ask(phone, "Khi nào thì kết quả giải quyết giấy tờ của dân được đồng bộ lên cổng dịch vụ công?", 3)
    assert "tháng 5" in deadline.inner_text() and "19/4/2023" not in deadline.inner_text()
    thanks = ask(phone, "cảm ơn bạn nhé", 4)
    assert thanks.inner_text().startswith("Rất vui") and thanks.locator("a.cite").count() == 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 392


def test_accessibility_axe_keyboard_and_screen_reader(page: Any) -> None:
    """axe-core finds no serious or critical violation on any tab; the question box has its own name; a keyboard
    alone reaches the box, sends with Enter and reaches the answer's [n]; focus is visible; a new answer is
    announced through a polite live region."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for tab in (None, "Tra cứu nguyên văn", "Thử prompt", "Hỏi đáp"):
        if tab:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(500)
        bad = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, [(tab, v["id"], [n["target"] for n in v["nodes"]]) for v in bad]
    assert page.get_by_role("textbox", name="Câu hỏi của bạn").count() == 1

    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(60):  # Tab until the question box has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.closest('#question') !== null"):
            break
    else:
        raise AssertionError("the question box cannot be reached with Tab")
    page.keyboard.type("Thủ tướng yêu cầu chấm dứt tình trạng gì?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite")
    page.wait_for_function("() => document.getElementById('cchc-live').textContent.includes('Câu trả lời mới')")
    live = page.locator("#cchc-live")
    assert live.get_attribute("aria-live") == "polite" and "chấm dứt" in live.text_content()
    for _ in range(80):  # and on to the answer's [n]
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.matches('a.cite')"):
            break
    else:
        raise AssertionError("the citation cannot be reached with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "focus is not visible"
    page.keyboard.press("Enter")
    page.wait_for_selector("#sources .source.flash")


# --- staff: Tra cứu nguyên văn -------------------------------------------------------------------------------------


def test_wording_lookup_without_diacritics(page: Any) -> None:
    page.get_by_role("tab", name="Tra cứu nguyên văn").click()
    textbox(page, "wording-phrase").fill("cham dut tinh trang khong dam lam")
    page.click("#wording-search")
    first = page.locator("#wording-results .wording-match").first
    first.wait_for()
    assert first.get_attribute("data-kind") == "folded"
    assert first.locator("mark").inner_text() == "chấm dứt tình trạng không dám làm"
    assert re.search(r"đoạn \d+, ký tự \d+–\d+", first.inner_text())
    assert page.locator("#wording-results .wording-match[data-kind=near]").count() >= 1
    near = page.locator("#wording-results .wording-match[data-kind=near]").first
    assert near.locator("ins").count() + near.locator("del").count() >= 1  # what the document says differently


DECREES = [
    {"id": "nd-138", "title": "Nghị định 138/2020/NĐ-CP về tuyển dụng công chức", "kind": "law", "date": "2020-11-27",
     "text": "Việc tuyển dụng công chức được thực hiện thông qua thi tuyển hoặc xét tuyển theo vị trí việc làm."},
    {"id": "nd-170", "title": "Nghị định 170/2025/NĐ-CP về tuyển dụng công chức", "kind": "law", "date": "2025-06-30",
     "text": "Nghị định này thay thế Nghị định số 138/2020/NĐ-CP quy định về tuyển dụng, sử dụng và quản lý công "
             "chức. Tiếp nhận vào làm công chức được áp dụng với người có kinh nghiệm công tác."},
]  # fmt: skip


def test_sources_show_dates_a_replaced_text_and_answers_as_of(page: Any, served: Any, tmp_path: Path) -> None:
    """Each source in the panel shows its document's dates, a replaced decree carries its flag, a question asked
    "theo quy định năm 2020" is answered as of that year, and the wording lookup can keep only texts in force."""
    import json

    from ingest.pipeline import Ingestor

    corpus = tmp_path / "nghi-dinh.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in DECREES), encoding="utf-8")
    engine = served.engine
    Ingestor(engine.settings, embedder=engine.embedder, store=engine.store).run([corpus])
    try:
        answer = ask(page, "Thủ tướng yêu cầu chấm dứt tình trạng gì?", 0)
        assert answer.inner_text().startswith("Theo tài liệu ngày 20/4/2023:")  # the sample says when it was written
        assert "ngày 20/4/2023" in page.locator("#sources .source").first.locator(".src-date").inner_text()

        old = ask(page, "Việc tuyển dụng công chức được thực hiện thông qua những hình thức nào?", 1)
        assert "đã được thay thế bởi 170/2025/NĐ-CP" in old.inner_text()  # the notice with the answer
        latest = page.locator("#sources details[open] .source").first
        assert "số 138/2020/NĐ-CP, ban hành 27/11/2020" in latest.locator(".src-date").inner_text()
        assert "Đã được thay thế bởi 170/2025/NĐ-CP (từ 30/6/2025)" in latest.locator(".src-superseded").inner_text()

        dated = ask(page, "Theo quy định năm 2020, việc tuyển dụng công chức được thực hiện thế nào?", 2)
        assert "Tính đến ngày 31/12/2020 (chỉ dùng tài liệu đến ngày đó)." in dated.inner_text()
        titles = page.locator("#sources details[open] .src-title").all_inner_texts()
        assert titles and not any("170/2025" in t for t in titles)  # nothing written after 2020 is quoted

        page.get_by_role("tab", name="Tra cứu nguyên văn").click()
        textbox(page, "wording-phrase").fill("tuyen dung cong chuc")
        page.click("#wording-search")
        page.locator("#wording-results .wording-match").first.wait_for()
        assert page.locator("#wording-results .src-superseded").count() >= 1
        page.locator("#wording-in-force input").check()
        page.click("#wording-search")
        page.wait_for_function("() => !document.querySelector('#wording-results .src-superseded')")
        assert "nd-138" not in page.locator("#wording-results").inner_text()
    finally:
        engine.store.delete_documents(["nd-138", "nd-170"])


# --- developers: Thử prompt ---------------------------------------------------------------------------------------


def test_prompt_lab_compares_two_configurations(page: Any, tmp_path: Path) -> None:
    """Extractive answers over two retrieval settings, side by side (works without an LLM)."""
    page.get_by_role("tab", name="Thử prompt").click()
    choose(page, "lab-prompt-A", "extractive (trích nguyên văn, không dùng LLM)")
    choose(page, "lab-prompt-B", "extractive (trích nguyên văn, không dùng LLM)")
    k_b = page.locator("#lab-k-B input[type=number]")
    k_b.fill("2")
    k_b.press("Enter")
    textbox(page, "lab-question").fill("Nguyên nhân chính của tồn tại, hạn chế là gì?")
    page.click("#lab-run")
    page.wait_for_selector("#lab-out-B .lab-result")
    a, b = page.locator("#lab-out-A .lab-result"), page.locator("#lab-out-B .lab-result")
    assert "k=5" in a.inner_text() and "k=2" in b.inner_text()
    assert a.locator("table.chunks tbody tr").count() == 5
    assert b.locator("table.chunks tbody tr").count() == 2
    for result in (a, b):
        assert "extractive" in result.inner_text()
        assert result.locator(".invalid").count() == 0
        assert re.search(r"Kiểm tra trích dẫn: (\d+)/\1 hợp lệ", result.inner_text())
        assert 0.0 <= float(result.locator(".answerability").inner_text()) <= 1.0  # the reader's probability

    # a question file in the harness format: bot.eval metrics for both configurations
    questions = tmp_path / "cau_hoi.jsonl"
    lines = (PROJECT_DIR / "data" / "questions" / "sample.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.get_by_text("Chạy một tệp câu hỏi (JSONL)").click()
    page.set_input_files("#lab-file input[type=file]", str(questions))
    page.wait_for_selector("#lab-file :text('cau_hoi')")
    page.click("#lab-run-file")
    page.wait_for_selector("#lab-metrics table")
    metrics = page.locator("#lab-metrics").inner_text()
    assert "recall@5" in metrics and "citation_validity" in metrics
    assert page.locator("#lab-metrics table").first.locator("tbody tr").count() == 2  # A and B
    assert page.locator("#lab-per-question tbody tr").count() == 4


@pytest.mark.llm
def test_prompt_lab_compares_two_prompt_versions_on_one_local_model(page: Any, served: Any) -> None:
    """answer@v1 against the latest answer prompt, both on the local LLM: one llama.cpp process serves both."""
    if os.environ.get("CCHC_TEST_LLM") == "0":
        pytest.skip("CCHC_TEST_LLM=0")
    problem = local_llm_problem(served.engine)
    if problem:
        unavailable(f"local LLM not usable: {problem}")
    from bot.answer.chain import MODEL_UNAVAILABLE
    from prompts import list_prompts

    version = list_prompts()["answer"][-1]
    page.get_by_role("tab", name="Thử prompt").click()
    choose(page, "lab-prompt-A", "answer@v1 (LLM)")
    choose(page, "lab-llm-A", "local")
    choose(page, "lab-prompt-B", f"answer@{version} (LLM)")
    choose(page, "lab-llm-B", "local")
    textbox(page, "lab-question").fill("Nguyên nhân chính của tồn tại, hạn chế là gì?")
    page.click("#lab-run")
    page.wait_for_selector("#lab-out-B .lab-result", timeout=600_000)
    for name, shown in (("A", "answer@v1"), ("B", f"answer@{version}")):
        out = page.locator(f"#lab-out-{name} .lab-result")
        assert f"{shown} · local" in out.inner_text()
        assert out.locator(".invalid").count() == 0  # whatever the model wrote, only verified citations are kept
        assert MODEL_UNAVAILABLE not in out.inner_text()  # the model answered…
        assert out.locator("details pre").count() == 1  # …from the prompt shown
    assert len(served.engine.llm_servers.running()) == 1  # both versions, one model process


# --- admin: Quản trị ------------------------------------------------------------------------------------------------


def test_admin_refuses_without_login(page: Any, served: Any) -> None:
    page.get_by_role("tab", name="Quản trị").click()
    assert page.locator("#admin-panel").is_hidden()
    assert page.locator("#admin-files").count() == 0 or page.locator("#admin-files").is_hidden()
    textbox(page, "admin-user").fill(ADMIN_USER)
    textbox(page, "admin-password").fill("sai-mat-khau")
    page.click("#admin-login-btn")
    page.wait_for_selector("#admin-login-msg :text('Sai tên đăng nhập hoặc mật khẩu')")
    assert page.locator("#admin-panel").is_hidden()
    # this client keeps guessing until the guard locks it out: then even the right password is refused
    guard = served.context.logins
    try:
        while not guard.failed("127.0.0.1"):
            pass
        textbox(page, "admin-password").fill(ADMIN_PASSWORD)
        page.click("#admin-login-btn")
        page.wait_for_selector("#admin-login-msg :text('Đăng nhập sai quá nhiều lần')")
        assert page.locator("#admin-panel").is_hidden()
        assert ADMIN_PASSWORD not in page.content()
    finally:
        guard.succeeded("127.0.0.1")


def test_admin_ingests_after_login_and_shows_an_xss_document_inert(page: Any, served: Any, tmp_path: Path) -> None:
    upload = tmp_path / "van_ban_thu_xss.txt"
    upload.write_text(
        f"Quy định thử nghiệm về tiếp nhận hồ sơ trực tuyến {XSS_PAYLOAD}\n\n"
        f"Từ ngày 1/6/2023, cơ quan hành chính tiếp nhận hồ sơ trực tuyến qua Cổng dịch vụ công {XSS_PAYLOAD} "
        "và trả kết quả trong ba ngày làm việc.\n",
        encoding="utf-8",
    )
    documents_before = served.engine.store.stats()["documents"]

    page.get_by_role("tab", name="Quản trị").click()
    textbox(page, "admin-user").fill(ADMIN_USER)
    textbox(page, "admin-password").fill(ADMIN_PASSWORD)
    page.click("#admin-login-btn")
    page.locator("#admin-panel").wait_for(state="visible")
    assert "Tài liệu" in page.locator("#admin-stats").inner_text()
    page.set_input_files("#admin-files input[type=file]", str(upload))
    page.wait_for_selector("#admin-files :text('van_ban_thu_xss')")
    page.click("#admin-ingest")
    summary = page.locator("#admin-ingest-out pre")
    summary.wait_for()
    assert "mới 1" in summary.inner_text()
    assert served.engine.store.stats()["documents"] == documents_before + 1
    assert (served.settings.data_dir / "uploads" / "van_ban_thu_xss.txt").is_file()
    page.locator("#admin-stats details.doc-list summary").click()
    assert XSS_PAYLOAD in page.locator("#admin-stats").inner_text()  # the title, shown as text
    # the upload states no date of its own: it is listed as undated, and staff set one
    page.locator("#admin-stats details.doc-undated summary").click()
    assert "van_ban_thu_xss" in page.locator("#admin-stats details.doc-undated").inner_text()
    choose(page, "admin-doc", re.compile("van_ban_thu_xss"))
    textbox(page, "admin-date").fill("1/6/2023")
    page.click("#admin-set-date")
    page.wait_for_selector("#admin-date-out :text('Đã lưu ngày 1/6/2023')")
    assert served.engine.store.timelines(["van_ban_thu_xss"])["van_ban_thu_xss"].date_from == "staff"

    # the document's text is shown as text everywhere and runs nothing
    page.get_by_role("tab", name="Hỏi đáp").click()
    answer = ask(page, "Cơ quan hành chính tiếp nhận hồ sơ trực tuyến qua đâu?", 0)
    assert "<script>window" in answer.inner_text()
    assert XSS_PAYLOAD in page.locator("#sources").inner_text()
    page.get_by_role("tab", name="Tra cứu nguyên văn").click()
    textbox(page, "wording-phrase").fill("tiep nhan ho so truc tuyen qua Cong dich vu cong")
    page.click("#wording-search")
    page.locator("#wording-results .wording-match").first.wait_for()
    assert XSS_PAYLOAD in page.locator("#wording-results").inner_text()
    assert page.locator("#chatbot script, #sources script, #wording-results script, #admin-stats script").count() == 0
    assert page.locator("#chatbot img[src=x], #sources img, #wording-results img, #admin-stats img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []

    # remove it again
    page.get_by_role("tab", name="Quản trị").click()
    choose(page, "admin-doc", re.compile("van_ban_thu_xss"))
    page.click("#admin-delete")
    page.wait_for_selector("#admin-delete-out :text('Đã xóa tài liệu')")
    assert served.engine.store.get_document("van_ban_thu_xss") is None
    assert served.engine.store.stats()["documents"] == documents_before
