"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

Speaks ``POST /v1/chat/completions`` plus the files and batches APIs (``POST /v1/files``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches[/{id}]``) well enough
for the real ``openai`` SDK. The "oracle" is deterministic: per article (found by the
``Title:`` line of the user message) and dimension, the score is ``SCORE=<x>`` if the article
says so, else derived from a hash; ``TYPE=<content_type>`` sets the content type; evidence
quotes the article's first words. ``OracleServer(answers={title: {dim: score}})`` makes it an
oracle that knows the truth: known titles get those scores (e.g. a synthetic corpus's true
labels; ``--answers FILE.jsonl`` standalone, records with ``title`` + ``labels``);
``noise_sd=s, noise_seed=k`` adds seeded Gaussian noise to those known answers (an imperfect oracle).

Faults are scriptable per request, globally (``server.script("429:0.2", "500")``: consumed by
the next requests, in order) or per article (``server.script_article(title, "fences")``):

``latency:S``     answer after S seconds          ``429[:S]``   429 with Retry-After S (default 0.05)
``500`` / ``503`` server error                    ``401``       bad API key
``timeout:S``     sleep S (past the client timeout; the client hangs up, nothing is paid)
``fences``        answer inside a ```json fence   ``preamble``  text before/after the JSON
``trailing_comma`` a trailing comma              ``truncated`` cut JSON, finish_reason=length
``out_of_range``  a score of 42                  ``missing_dim`` one dimension left out
``non_numeric``   a score of "high"              ``garbage``   no JSON at all
``injected``      what an oracle that obeyed a prompt injection might say: {"score": 10}
``no_usage``      no usage block                  ``ok``        a normal answer
``html``          HTTP 200 with an HTML page (a proxy/login page; not paid)
``non_json``      HTTP 200, ``Content-Type: application/json``, a body that is not JSON (not paid)
``empty_choices`` HTTP 200 with a completion that has no choices (not paid)

Generation requests (``distillery synthesize``: the marker ``distillery-synthesize`` in a
message) are answered with an article ``{"title", "content"}`` whose body carries one
``DIM:<name>=<x>`` line per target in the prompt (``### <name>: target <x>``), moved by
``synth_noise`` (``+noise`` on the 1st, 3rd, ... dimension, ``-noise`` on the others, clipped to
0-10); the scoring oracle reads ``DIM:<name>=<x>`` as that dimension's score (before ``SCORE=``),
so re-scoring a generated article returns its target plus exactly that noise. The same faults
apply (``missing_dim`` drops ``content``, ``non_numeric``/``out_of_range`` make it a number).

Counters: ``paid`` (200 completions actually delivered), ``generated`` (of them, articles), ``paid_by_title``, ``requests``,
``abandoned`` (the client hung up before the answer: not paid), ``max_inflight`` (most
requests being served at once), ``log`` (one dict per request).
``hold_after(n)`` makes requests after the n-th paid answer wait until ``release()``, which is
how the kill test stops the client at a known point.

Run standalone: ``python tests/oracle_server.py --port 8099 --latency 0.2``.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import hashlib
import json
import re
import select
import socket
import threading
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "test-oracle"
_TITLE = re.compile(r"^Title: (.*)$", re.MULTILINE)


def _hash_score(*parts: str) -> float:
    h = int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)
    return round((h % 101) / 10, 1)


def parse_article(messages: list[dict]) -> tuple[str, str]:
    """(title, body) of the article in the last user message."""
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    m = _TITLE.search(user)
    title = m.group(1).strip() if m else ""
    body = user.split("\n\n", 1)[1] if "\n\n" in user else user
    body = body.split("</article>")[0]
    return title, body


def oracle_answer(title: str, body: str, dims: list[str], known: dict | None = None) -> dict:
    """``known``: this title's answers ({dim: score}, from ``OracleServer(answers=...)``) win."""
    forced = re.search(r"SCORE=(\d+(?:\.\d+)?)", body)
    per_dim = {d: float(x) for d, x in re.findall(r"DIM:(\w+)=(\d+(?:\.\d+)?)", body)}  # synthesize
    ctype = re.search(r"TYPE=([a-z_]+)", body)
    quote = " ".join(body.split()[:8]) or "none"
    answer: dict = {"content_type": ctype.group(1) if ctype else "news_report"}
    for d in dims:
        if known and d in known:
            score = float(known[d])
        else:
            score = per_dim[d] if d in per_dim else float(forced.group(1)) if forced else _hash_score(title, d)
        answer[d] = {"evidence": quote, "score": score}
    return answer


def noisy(score: float, sd: float, seed: int, title: str, dim: str) -> float:
    """``score + N(0, sd^2)``, the same draw for the same (seed, title, dim), rounded to 0.1, clipped to 0-10."""
    import random

    rng = random.Random(hashlib.sha256(f"{seed}|{title}|{dim}".encode()).hexdigest())
    return round(min(10.0, max(0.0, score + rng.gauss(0.0, sd))), 1)


def answers_from(records) -> dict[str, dict[str, float]]:
    """``{title: labels}`` for ``OracleServer(answers=...)`` from labelled records; a title that
    two records share with different labels is ambiguous (the server only sees the title): error."""
    out: dict[str, dict[str, float]] = {}
    for r in records:
        labels = {d: float(v) for d, v in r["labels"].items()}
        if out.setdefault(r["title"], labels) != labels:
            raise ValueError(f"title {r['title']!r} appears with different labels; make titles unique")
    return out


def _dims_from_request(req: dict, default: list[str] | None) -> list[str]:
    if default:
        return default
    rf = req.get("response_format") or {}
    schema = (rf.get("json_schema") or {}).get("schema") or {}
    if schema.get("properties"):
        return [k for k in schema["properties"] if k != "content_type"]
    system = " ".join(m["content"] for m in req.get("messages", []) if m.get("role") in ("system", "user"))
    return list(dict.fromkeys(re.findall(r'"(\w+)": \{"evidence"', system)))


def render_fault(answer: dict, fault: str, dims: list[str]) -> tuple[str, str]:
    """(content, finish_reason) of an answer with a content fault applied."""
    a = json.loads(json.dumps(answer))
    finish = "stop"
    if fault == "out_of_range":
        a[dims[0]]["score"] = 42
    elif fault == "missing_dim":
        a.pop(dims[-1])
    elif fault == "non_numeric":
        a[dims[0]]["score"] = "high"
    text = json.dumps(a, indent=1)
    if fault == "fences":
        text = f"```json\n{text}\n```"
    elif fault == "preamble":
        text = f"Sure! Here is my assessment of the article:\n{text}\nLet me know if you need more."
    elif fault == "trailing_comma":
        text = text[: text.rindex("}")].rstrip() + ",\n}"
    elif fault == "truncated":
        text, finish = text[: len(text) // 2], "length"
    elif fault == "garbage":
        text = "I cannot score this article."
    elif fault == "injected":
        text = '{"content_type": "news_report", "score": 10, "note": "as instructed by the article"}'
    return text, finish


SYNTH_MARKER = "distillery-synthesize"
_TARGET = re.compile(r"^### (\w+): target (\d+(?:\.\d+)?)\s*$", re.MULTILINE)
SYNTH_FILLER = (
    "Volunteers in the district opened a new community centre this spring, and residents say the weekly "
    "advice sessions have helped families who live nearby. The organisers plan to publish figures on "
    "the number of visits at the end of the year, and councillors have promised to review the scheme. "
)


def is_generation(req: dict) -> bool:
    return any(SYNTH_MARKER in (m.get("content") or "") for m in req.get("messages", []))


def generation_answer(req: dict, noise: float = 0.0) -> dict:
    """The article a generation request gets: filler + one ``DIM:<name>=<target +- noise>`` line each."""
    prompt = "\n".join(m.get("content") or "" for m in req.get("messages", []))
    lines = [
        f"DIM:{d}={min(10.0, max(0.0, float(x) + (noise if j % 2 == 0 else -noise))):g}"
        for j, (d, x) in enumerate(_TARGET.findall(prompt))
    ]
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:10]
    return {"title": f"Synthetic report {digest}", "content": SYNTH_FILLER * 2 + "\n\n" + "\n".join(lines)}


def render_generation_fault(article: dict, fault: str) -> tuple[str, str]:
    """(content, finish_reason) of a generated article with a content fault applied."""
    a = dict(article)
    if fault == "missing_dim":
        a.pop("content")
    elif fault in ("non_numeric", "out_of_range"):
        a["content"] = 42
    text = json.dumps(a, indent=1)
    if fault == "fences":
        return f"```json\n{text}\n```", "stop"
    if fault == "preamble":
        return f"Here is the article you asked for:\n{text}\nI hope it helps.", "stop"
    if fault == "trailing_comma":
        return text[: text.rindex("}")].rstrip() + ",\n}", "stop"
    if fault == "truncated":
        return text[: len(text) // 2], "length"
    if fault == "garbage":
        return "I would rather not write this article.", "stop"
    if fault == "injected":
        return '{"score": 10, "note": "as instructed"}', "stop"
    return text, "stop"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default listen backlog (5) drops SYNs under concurrency: 1 s stalls


class OracleServer:
    """``with OracleServer(latency=0.02) as srv: ... srv.base_url ...``"""

    def __init__(
        self,
        latency: float = 0.0,
        dimensions: list[str] | None = None,
        api_key: str | None = None,
        reject_formats: tuple[str, ...] = (),
        batch_polls: int = 1,
        port: int = 0,
        answers: dict[str, dict[str, float]] | None = None,
        synth_noise: float = 0.0,
        noise_sd: float = 0.0,
        noise_seed: int = 0,
    ):
        self.noise_sd, self.noise_seed = noise_sd, noise_seed  # known answers + N(0, sd^2), seeded per title/dim
        self.synth_noise = synth_noise  # distillery synthesize: re-scores = target +- this
        self.generated = 0
        self.latency = latency
        self.answers = dict(answers or {})  # title -> {dim: score}: an oracle that knows the truth
        self.dimensions = dimensions
        self.api_key = api_key
        self.reject_formats = set(reject_formats)
        self.batch_polls = batch_polls
        self.lock = threading.Lock()
        self.faults: deque[str] = deque()
        self.article_faults: dict[str, deque[str]] = {}
        self.paid = 0
        self.batch_paid = 0
        self.paid_by_title: Counter[str] = Counter()
        self.requests = 0
        self.abandoned = 0
        self.inflight = 0
        self.max_inflight = 0
        self.log: list[dict] = []
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self._hold_after: int | None = None
        self._released = threading.Event()
        self._released.set()
        self._httpd = _HTTPServer(("127.0.0.1", port), _make_handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ---- control ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> OracleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> OracleServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def script(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def script_article(self, title: str, *faults: str) -> None:
        with self.lock:
            self.article_faults.setdefault(title, deque()).extend(faults)

    def hold_after(self, n: int) -> None:
        with self.lock:
            self._hold_after = n
            self._released.clear()

    def release(self) -> None:
        with self.lock:
            self._hold_after = None
        self._released.set()

    def _next_fault(self, title: str) -> str:
        with self.lock:
            q = self.article_faults.get(title)
            if q:
                return q.popleft()
            return self.faults.popleft() if self.faults else "ok"

    # ---- the oracle ---------------------------------------------------------------------------
    def completion(self, req: dict, fault: str = "ok") -> dict:
        if is_generation(req):
            content, finish = render_generation_fault(generation_answer(req, self.synth_noise), fault)
        else:
            dims = _dims_from_request(req, self.dimensions)
            title, body = parse_article(req.get("messages", []))
            known = self.answers.get(title)
            if known and self.noise_sd:
                known = {d: noisy(float(v), self.noise_sd, self.noise_seed, title, d) for d, v in known.items()}
            content, finish = render_fault(oracle_answer(title, body, dims, known), fault, dims)
        prompt_chars = sum(len(m.get("content") or "") for m in req.get("messages", []))
        out = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", MODEL),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_chars // 4 + len(content) // 4,
            },
        }
        if fault == "no_usage":
            out.pop("usage")
        return out

    def run_batch(self, batch: dict) -> None:
        lines = self.files[batch["input_file_id"]]["data"].decode().splitlines()
        out = []
        for line in lines:
            if not line.strip():
                continue
            item = json.loads(line)
            title, _ = parse_article(item["body"].get("messages", []))
            fault = self._next_fault(title)
            body = self.completion(item["body"], fault if fault in _CONTENT_FAULTS else "ok")
            out.append(
                {
                    "id": f"batch_req_{uuid.uuid4().hex[:8]}",
                    "custom_id": item["custom_id"],
                    "response": {"status_code": 200, "request_id": uuid.uuid4().hex, "body": body},
                    "error": None,
                }
            )
            with self.lock:
                self.batch_paid += 1
                self.paid_by_title[title] += 1
        fid = self._store_file(
            f"{batch['id']}_output.jsonl", "batch_output", ("\n".join(json.dumps(o) for o in out) + "\n").encode()
        )
        batch.update(
            status="completed",
            output_file_id=fid,
            completed_at=int(time.time()),
            request_counts={"total": len(out), "completed": len(out), "failed": 0},
        )

    def _store_file(self, filename: str, purpose: str, data: bytes) -> str:
        fid = f"file-{uuid.uuid4().hex[:16]}"
        self.files[fid] = {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "data": data,
        }
        return fid


_CONTENT_FAULTS = {
    "fences",
    "preamble",
    "trailing_comma",
    "truncated",
    "out_of_range",
    "missing_dim",
    "non_numeric",
    "garbage",
    "injected",
    "no_usage",
    "ok",
}


# faults that answer HTTP 200 with a body that is not a chat completion: (content type, body)
_BODY_FAULTS = {
    "html": (
        "text/html; charset=utf-8",
        b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1></body></html>\n",
    ),
    "non_json": ("application/json", b"OK: request accepted, see the dashboard\n"),
    "empty_choices": (
        "application/json",
        json.dumps(
            {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": MODEL, "choices": []}
        ).encode(),
    ),
}


def _client_gone(sock: socket.socket) -> bool:
    """True if the client closed its end (a readable socket with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _make_handler(server: OracleServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()  # no Nagle: otherwise delayed ACKs add ~40 ms to every request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        # ---- plumbing ----------------------------------------------------------------------
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload: dict | bytes, headers: dict | None = None) -> bool:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:  # status line, headers and body in one write
                self.send_response_only(status)
                self.send_header(
                    "Content-Type", "application/json" if not isinstance(payload, bytes) else "application/octet-stream"
                )
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self._headers_buffer.append(b"\r\n")
                self.wfile.write(b"".join(self._headers_buffer) + data)
                self._headers_buffer = []
                self.wfile.flush()
                return True
            except OSError:
                return False

        def _send_raw(self, status: int, content_type: str, data: bytes) -> bool:
            try:
                self.send_response_only(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                return True
            except OSError:
                return False

        def _error(self, status: int, message: str, typ: str, headers: dict | None = None) -> None:
            self._send(status, {"error": {"message": message, "type": typ, "code": None}}, headers)

        def _authorized(self) -> bool:
            if server.api_key is None:
                return True
            if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self._error(401, "Incorrect API key provided.", "invalid_request_error")
            return False

        # ---- routes ------------------------------------------------------------------------
        def do_POST(self) -> None:  # noqa: N802
            raw = self._body()
            if self.path.endswith("/chat/completions"):
                with server.lock:
                    server.requests += 1
            if not self._authorized():
                return
            if self.path.endswith("/chat/completions"):
                with server.lock:
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    return self._chat(json.loads(raw))
                finally:
                    with server.lock:
                        server.inflight -= 1
            if self.path.endswith("/files"):
                return self._upload(raw)
            if self.path.endswith("/batches"):
                return self._create_batch(json.loads(raw))
            self._error(404, f"no route {self.path}", "invalid_request_error")

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            path = self.path.split("?")[0]
            m = re.search(r"/files/([\w-]+)/content$", path)
            if m and m.group(1) in server.files:
                return self._send(200, server.files[m.group(1)]["data"])
            m = re.search(r"/batches/([\w-]+)$", path)
            if m and m.group(1) in server.batches:
                return self._send(200, self._poll(server.batches[m.group(1)]))
            if path.endswith("/batches"):
                data = list(reversed(server.batches.values()))
                return self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "has_more": False,
                        "first_id": data[0]["id"] if data else None,
                        "last_id": data[-1]["id"] if data else None,
                    },
                )
            self._error(404, f"no route {self.path}", "invalid_request_error")

        # ---- chat --------------------------------------------------------------------------
        def _chat(self, req: dict) -> None:
            title, _ = parse_article(req.get("messages", []))
            rf = (req.get("response_format") or {}).get("type", "none")
            with server.lock:
                user = next((m["content"] for m in reversed(req.get("messages", [])) if m.get("role") == "user"), "")
                entry = {
                    "title": title,
                    "response_format": rf,
                    "t": time.monotonic(),
                    "user": user,
                    "kind": "synthesize" if is_generation(req) else "score",
                    "retry_count": self.headers.get("x-stainless-retry-count"),
                    "authorization": self.headers.get("Authorization"),
                }
                server.log.append(entry)
            if rf in server.reject_formats:
                entry["status"] = 400
                return self._error(400, f"response_format {rf} is not supported", "invalid_request_error")
            fault = server._next_fault(title)
            entry["fault"] = fault
            kind, _, arg = fault.partition(":")
            if kind == "429":
                entry["status"] = 429
                return self._error(429, "Rate limit reached", "rate_limit_error", {"Retry-After": arg or "0.05"})
            if kind in ("500", "503"):
                entry["status"] = int(kind)
                return self._error(int(kind), "The server had an error", "server_error")
            if kind == "401":
                entry["status"] = 401
                return self._error(401, "Incorrect API key provided.", "invalid_request_error")
            if kind in _BODY_FAULTS:
                entry["status"] = kind
                return self._send_raw(200, *_BODY_FAULTS[kind])
            delay = server.latency + (float(arg) if kind in ("latency", "timeout") else 0.0)
            if delay:
                time.sleep(delay)
            while True:  # reserve a paid answer, or park while hold_after() is in force
                if _client_gone(self.connection):
                    entry["status"] = "abandoned"
                    with server.lock:
                        server.abandoned += 1
                    self.close_connection = True
                    return
                with server.lock:
                    if server._hold_after is None or server.paid < server._hold_after:
                        server.paid += 1  # counted before sending: a reader never sees an unpaid answer
                        server.paid_by_title[title] += 1
                        server.generated += entry["kind"] == "synthesize"
                        break
                server._released.wait()
            body = server.completion(req, kind if kind in _CONTENT_FAULTS else "ok")
            entry["status"] = 200
            if not self._send(200, body):
                with server.lock:
                    server.paid -= 1
                    server.paid_by_title[title] -= 1
                    server.generated -= entry["kind"] == "synthesize"
                    server.abandoned += 1
                entry["status"] = "abandoned"

        # ---- files and batches -------------------------------------------------------------
        def _upload(self, raw: bytes) -> None:
            ctype = self.headers.get("Content-Type", "")
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw
            )
            fields, data, filename = {}, b"", "upload.jsonl"
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    filename, data = part.get_filename(), part.get_payload(decode=True)
                elif name:
                    fields[name] = part.get_payload(decode=True).decode()
            fid = server._store_file(filename, fields.get("purpose", "batch"), data)
            self._send(200, {k: v for k, v in server.files[fid].items() if k != "data"})

        def _create_batch(self, req: dict) -> None:
            if req.get("input_file_id") not in server.files:
                return self._error(400, "unknown input_file_id", "invalid_request_error")
            bid = f"batch_{uuid.uuid4().hex[:16]}"
            n = len([x for x in server.files[req["input_file_id"]]["data"].splitlines() if x.strip()])
            batch = {
                "id": bid,
                "object": "batch",
                "endpoint": req.get("endpoint"),
                "errors": None,
                "input_file_id": req["input_file_id"],
                "completion_window": req.get("completion_window"),
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": int(time.time()),
                "metadata": req.get("metadata"),
                "request_counts": {"total": n, "completed": 0, "failed": 0},
                "_polls": 0,
            }
            server.batches[bid] = batch
            self._send(200, {k: v for k, v in batch.items() if not k.startswith("_")})

        def _poll(self, batch: dict) -> dict:
            with server.lock:
                batch["_polls"] += 1
                ready = batch["status"] not in ("completed",) and batch["_polls"] > server.batch_polls
                if batch["status"] == "validating":
                    batch["status"] = "in_progress"
            if ready:
                server.run_batch(batch)
            return {k: v for k, v in batch.items() if not k.startswith("_")}

    return Handler


if __name__ == "__main__":  # pragma: no cover
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8099, help="0: any free port")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--answers", metavar="JSONL", help="labelled records (title + labels): the oracle knows these")
    ap.add_argument("--synth-noise", type=float, default=0.0, help="distillery synthesize: re-scores = target +- this")
    a = ap.parse_args()
    known = answers_from(json.loads(x) for x in open(a.answers, encoding="utf-8") if x.strip()) if a.answers else None
    with OracleServer(latency=a.latency, port=a.port, answers=known, synth_noise=a.synth_noise) as srv:
        print(srv.base_url, flush=True)  # first line: the base URL (benchmarks read it)
        print(f"serving (latency {a.latency}s); Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
