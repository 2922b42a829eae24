"""The demo served for real (queue, concurrency groups, progress), driven by two gradio_client sessions.

A tiny model keeps it fast; the document encoding of the upload is held at a gate so the test decides
how long "indexing" lasts, and the other session's search must answer while the gate is closed.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from optical_st import app

UPLOAD_ROWS = [
    {
        "id": str(i),
        "language": "npi_Deva",
        "english": f"Report number {i} was filed.",
        "target": f"प्रतिवेदन {i}",
    }
    for i in range(60)
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory):
    """A served demo whose model waits for ``gate`` before encoding any text of the upload."""
    from tiny_models import gate_document_encoding, make_tiny_model

    folder = tmp_path_factory.mktemp("server-model")
    texts = [app.load_corpus().documents[i].text for i in range(0, 1400, 7)]
    make_tiny_model(folder, texts + [row["target"] for row in UPLOAD_ROWS])
    state = app.DemoState(str(folder / "model"), cache_dir=None)
    demo = app.build_demo(state)  # indexes the shipped corpus before serving
    gate, started = threading.Event(), threading.Event()
    gate_document_encoding(state.model(), [row["target"] for row in UPLOAD_ROWS], gate, started)
    port = free_port()
    app.serve(demo, port=port, block=False)
    upload = tmp_path_factory.mktemp("upload") / "reports.jsonl"
    upload.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in UPLOAD_ROWS), encoding="utf-8"
    )
    yield f"http://127.0.0.1:{port}/", upload, gate, started
    gate.set()
    demo.close()


def test_search_concurrency_while_another_session_indexes(gated_server):
    """Item 1: session B's search on the indexed shipped corpus is not delayed by session A's upload."""
    from gradio_client import Client, handle_file

    url, upload, gate, started = gated_server
    uploader, searcher = Client(url, verbose=False), Client(url, verbose=False)
    job = uploader.submit(handle_file(str(upload)), api_name="/upload_corpus")
    try:
        assert started.wait(timeout=30), "the upload's encoding did not start"
        begin = time.perf_counter()
        page = searcher.predict(
            "'The sea is ours': landlocked Bolivia", ["eng_Latn", "npi_Deva"], 5, api_name="/search"
        )
        elapsed = time.perf_counter() - begin
        assert not gate.is_set() and not job.done()
        assert elapsed < 3.0, f"search took {elapsed:.1f} s while another session was indexing"
        assert page.count('class="ost-hit"') == 5
        # Item 2: the uploading session sees real progress, not just a time estimate.
        # gradio sends progress asynchronously: under load it can reach the client after the search
        deadline = time.monotonic() + 10
        while True:
            progress = job.status().progress_data
            if progress and any("Indexing" in (unit.desc or "") for unit in progress):
                break
            assert time.monotonic() < deadline, progress
            time.sleep(0.1)
        assert "of 2 languages" in progress[0].desc
    finally:
        gate.set()
    corpus_line, *_ = job.result(timeout=60)  # gradio_client leaves the session state out
    assert "reports.jsonl (120 documents in 2 languages)" in corpus_line


def test_model_box_refuses_server_paths_and_keeps_naming_the_serving_model(gated_server):
    """Issue 25, item 5: '/etc' and a missing folder get the same answer; the serving line stays."""
    from gradio_client import Client

    url, *_ = gated_server
    client = Client(url, verbose=False)
    answers = []
    for name in ("/etc", "/no/such/folder"):
        serving, _details = client.predict(name, "", api_name="/load_models")  # the state is left out
        answers.append(serving.replace(name, "NAME"))
    assert answers[0] == answers[1], answers
    assert "cannot be loaded here" in answers[0] and "**Serving model:** model" in answers[0]
