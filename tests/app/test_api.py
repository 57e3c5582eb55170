"""The public API of the web app: "ask", "retrieve", "lookup_wording" through gradio_client and plain HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer.citations import Citation, is_valid
from tests.app.fixtures import running_app, sample_text, squash
from webui.guard import QuestionLimits


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder):
    with running_app(tmp_path_factory.mktemp("api"), embedder) as running:
        yield running


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served.url, verbose=False)


def test_only_the_three_stable_endpoints_are_public(client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/ask", "/retrieve", "/lookup_wording"}


def test_ask_returns_verified_citations(client, served) -> None:
    result = client.predict(question="Nguyên nhân chính của tồn tại, hạn chế là gì?", api_name="/ask")
    assert not result["refused"] and result["citations"]
    assert "chủ quan là chính" in result["answer"]
    for c in result["citations"]:
        doc = served.engine.store.get_document(c["doc_id"])
        assert is_valid(Citation(**c), doc.text)
        assert squash(c["quote"]) in squash(sample_text())
    follow = client.predict(
        question="Còn nguyên nhân khách quan thì sao?",
        history=[["Nguyên nhân chính của tồn tại, hạn chế là gì?", result["answer"]]],
        k=3,
        api_name="/ask",
    )
    assert follow["standalone_question"] != "Còn nguyên nhân khách quan thì sao?"


def test_retrieve_and_lookup(client) -> None:
    hits = client.predict(question="chuyen doi so", k=3, api_name="/retrieve")
    assert len(hits) == 3 and hits[0]["rank"] == 1 and {"doc_id", "score", "text", "char_start"} <= set(hits[0])
    matches = client.predict(phrase="cham dut tinh trang khong dam lam", limit=3, api_name="/lookup_wording")
    assert matches and matches[0]["kind"] == "folded" and matches[0]["text"] == "chấm dứt tình trạng không dám làm"
    assert len(matches) <= 3


def test_plain_http_call_api(served) -> None:
    base = served.url + "gradio_api/call/retrieve"
    event = httpx.post(base, json={"data": ["cải cách thủ tục hành chính", 2, False]}, timeout=30).json()
    lines = httpx.get(f"{base}/{event['event_id']}", timeout=60).text.splitlines()
    assert "event: complete" in lines
    data = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))
    assert len(data[0]) == 2 and data[0][0]["rank"] == 1


def test_admin_tab_only_with_credentials(served, tmp_path) -> None:
    import gradio as gr

    import app
    from settings import Settings

    def tabs(demo: gr.Blocks) -> list[str]:
        return [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]

    assert tabs(served.demo) == ["Hỏi đáp", "Tra cứu nguyên văn", "Thử prompt", "Quản trị"]
    plain = app.build_app(
        served.engine, Settings(data_dir=tmp_path, cache_dir=served.settings.cache_dir), prepare_store=False
    )
    assert tabs(plain) == ["Hỏi đáp", "Tra cứu nguyên văn", "Thử prompt"]
    assert plain.cchc_context.readiness.ready


def test_json_ask_route(served) -> None:
    url = served.url + "api/ask"
    question = "Thủ tướng yêu cầu chấm dứt tình trạng gì?"
    answer = httpx.post(url, json={"question": question, "history": [], "k": None}, timeout=120)
    assert answer.status_code == 200
    body = answer.json()
    assert not body["refused"] and body["citations"]
    for c in body["citations"]:  # verbatim, at the offsets given
        assert served.engine.store.get_document(c["doc_id"]).text[c["char_start"] : c["char_end"]] == c["quote"]
    follow = httpx.post(url, json={"question": "Còn gì nữa?", "history": [[question, body["answer"]]]}, timeout=120)
    assert follow.status_code == 200 and follow.json()["standalone_question"] != "Còn gì nữa?"
    for bad in (b"\xff\xfe not utf-8", b"[1, 2]", b'{"question": 5}', b'{"question": "x", "k": "many"}', b""):
        refused = httpx.post(url, content=bad, headers={"content-type": "application/json"}, timeout=30)
        assert refused.status_code == 400 and "Yêu cầu không hợp lệ" in refused.json()["error"]
    empty = httpx.post(url, json={"question": "  "}, timeout=30)
    assert empty.status_code == 400 and "Câu hỏi trống" in empty.json()["error"]
    too_long = httpx.post(url, json={"question": "thủ tục " * 1000}, timeout=120)
    assert too_long.status_code == 200 and too_long.json()["notices"]  # cut to the limit, and told so
    assert httpx.get(url, timeout=30).status_code == 405
    # as_of: the sample (20/4/2023) is not used for an answer as of 2022, and the answer says what it is as of
    dated = httpx.post(url, json={"question": question}, timeout=120).json()
    assert dated["answer"].startswith("Theo tài liệu ngày 20/4/2023:") and dated["citations"][0]["date"] == "2023-04-20"
    before = httpx.post(url, json={"question": question, "as_of": "31/12/2022"}, timeout=120)
    assert before.status_code == 200 and before.json()["refused"] and before.json()["retrieved"] == []
    assert "chỉ xét tài liệu đến ngày 31/12/2022" in before.json()["answer"]
    bad_date = httpx.post(url, json={"question": question, "as_of": "hôm kia"}, timeout=30)
    assert bad_date.status_code == 400 and "không hợp lệ" in bad_date.json()["error"]
    not_text = httpx.post(url, json={"question": question, "as_of": 2022}, timeout=30)
    assert not_text.status_code == 400 and "Yêu cầu không hợp lệ" in not_text.json()["error"]


def test_json_ask_route_is_busy_and_rate_limited_like_the_chat(served) -> None:
    ctx = served.context
    url = served.url + "api/ask"
    held = [ctx.admission.slot() for _ in range(ctx.admission.slots)]
    for slot in held:
        slot.__enter__()
    wait_s, ctx.admission.wait_s = ctx.admission.wait_s, 0.5
    try:
        busy = httpx.post(url, json={"question": "Thủ tục cấp lại CCCD?"}, timeout=30)
        assert busy.status_code == 503 and "đang bận" in busy.json()["error"]
    finally:
        ctx.admission.wait_s = wait_s
        for slot in held:
            slot.__exit__(None, None, None)
    limits, ctx.questions = ctx.questions, QuestionLimits(1, 0, 60.0)
    try:
        statuses = [httpx.post(url, json={"question": "Thủ tục cấp lại CCCD?"}, timeout=120) for _ in range(2)]
        assert statuses[-1].status_code == 429 and "quá nhiều câu hỏi" in statuses[-1].json()["error"]
        assert int(statuses[-1].headers["retry-after"]) > 0
    finally:
        ctx.questions = limits


@pytest.fixture()
def unlimited(served):
    """The hostile-input tests send many requests from one address: lift the question rate for them."""
    limits, served.context.questions = served.context.questions, QuestionLimits(0, 0, 60.0)
    yield served
    served.context.questions = limits


def test_json_ask_route_bounds_and_refuses_hostile_bodies(unlimited) -> None:
    url = unlimited.url + "api/ask"
    headers = {"content-type": "application/json"}
    for deep in (b"[" * 30_000 + b"]" * 30_000, b'{"question": "x", "history": ' + b"[" * 30_000):  # < 64 KB
        refused = httpx.post(url, content=deep, headers=headers, timeout=30)
        assert refused.status_code == 400 and "Yêu cầu không hợp lệ" in refused.json()["error"]
    big = b'{"question": "thu tuc", "history": [["' + b"a" * 20_000_000 + b'", "b"]]}'
    declared = httpx.post(url, content=big, headers=headers, timeout=60)
    assert declared.status_code == 413 and "quá lớn" in declared.json()["error"]

    def pieces():  # no Content-Length: read in pieces and cut off at the limit
        yield b'{"question": "' + b"a" * 1_000_000
        yield b"a" * 20_000_000

    chunked = httpx.post(url, content=pieces(), headers=headers, timeout=60)
    assert chunked.status_code == 413 and "quá lớn" in chunked.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["question", "history", "k", "x"]), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_json_ask_route_never_fails_on_a_malformed_body(unlimited, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    reply = httpx.post(unlimited.url + "api/ask", content=body, headers=headers, timeout=60)
    assert reply.status_code in (200, 400), (body, reply.status_code, reply.text[:200])
    if reply.status_code == 400:
        assert reply.json()["error"]  # a Vietnamese reason, never a traceback
