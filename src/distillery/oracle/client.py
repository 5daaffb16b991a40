"""The oracle client: one chat-completions call through the ``openai`` SDK, any compatible server.

Retries are the SDK's: ``max_retries`` attempts with exponential backoff and jitter on timeouts,
connection errors, 408/409/429 and 5xx, honouring ``Retry-After``/``retry-after-ms`` (a server
asking for more than 120 s is not retried). We read ``retries_taken`` from ``with_raw_response``
(and the ``x-stainless-retry-count`` header of a request that failed) to report them. What we
add on top: classifying what is left after the SDK gave up into *fatal* (stop the
run with one clear line: bad key, no access, unknown model) and *per-article* errors (recorded,
retried next run), and the ``response_format`` fallback json_schema -> json_object -> none when
an endpoint rejects structured output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from distillery.errors import DistilleryError
from distillery.filters.prompt import response_format
from distillery.filters.spec import FilterSpec
from distillery.oracle.config import OracleConfig, redact_url

if TYPE_CHECKING:  # the SDK is imported where it is used: it takes ~0.7 s to import
    import openai

FORMAT_FALLBACK = {"json_schema": "json_object", "json_object": "none"}


class TransportError(Exception):
    """No answer for this article after the SDK's retries (recorded as an ``error`` line)."""

    def __init__(self, kind: str, message: str, retries: int = 0):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retries = retries


@dataclass
class Completion:
    text: str | None
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    retries: int  # HTTP attempts the SDK retried
    latency_s: float
    response_format: str


def estimate_tokens(text: str) -> int:
    """Deliberately generous token estimate (3 chars/token) for budgets and rate limits."""
    return len(text) // 3 + 1


def fatal_message(e: openai.APIStatusError, endpoint: str, model: str, key_env: str) -> str:
    import openai

    where = redact_url(endpoint)
    if isinstance(e, openai.AuthenticationError):
        return f"the oracle endpoint {where} rejected the API key (HTTP 401): check ${key_env}"
    if isinstance(e, openai.PermissionDeniedError):
        return f"the API key in ${key_env} has no access to model {model!r} at {where} (HTTP 403)"
    if isinstance(e, openai.NotFoundError):
        return f"model {model!r} or the chat endpoint was not found at {where} (HTTP 404): check --model/--base-url"
    return f"the oracle endpoint {where} refused the request (HTTP {e.status_code})"


class OracleClient:
    """Async chat-completions client for one oracle config and filter."""

    def __init__(
        self, cfg: OracleConfig, spec: FilterSpec, key: SecretStr, formats: Callable[[str], dict | None] | None = None
    ):
        self.cfg = cfg
        self.spec = spec
        # kind (json_schema | json_object | none) -> the request's response_format; default: the
        # filter's scoring answer (``distillery synthesize`` passes its article schema)
        self.formats = formats or (lambda kind: response_format(spec, kind))
        self.format = "json_schema" if cfg.response_format == "auto" else cfg.response_format
        self.format_downgrades: list[str] = []
        import openai

        self._client = openai.AsyncOpenAI(
            api_key=key.get_secret_value(),
            base_url=cfg.endpoint,
            max_retries=cfg.max_retries,
            timeout=cfg.timeout_s,
        )

    @property
    def sdk(self) -> openai.AsyncOpenAI:
        """The SDK client (the Batch API uses its files and batches resources)."""
        return self._client

    def _kwargs(self, messages: list[dict], kind: str) -> dict:
        c = self.cfg
        kw: dict = {"model": c.model, "messages": messages, c.max_tokens_param: c.max_answer_tokens}
        for name in ("temperature", "top_p", "seed"):
            if getattr(c, name) is not None:
                kw[name] = getattr(c, name)
        rf = self.formats(kind)
        if rf is not None:
            kw["response_format"] = rf
        if c.extra_body:
            kw["extra_body"] = dict(c.extra_body)
        return kw

    def request_body(self, messages: list[dict]) -> dict:
        """The JSON body of one chat-completions request (what a Batch API line carries)."""
        kw = self._kwargs(messages, self.format)
        kw.update(kw.pop("extra_body", {}))
        return kw

    def _downgrade(self, used: str, e: openai.APIStatusError) -> bool:
        """After a 400/422 with structured output in ``auto`` mode: fall back one step."""
        if self.cfg.response_format != "auto" or used not in FORMAT_FALLBACK:
            return False
        if self.format == used:  # another request may already have downgraded
            self.format = FORMAT_FALLBACK[used]
            self.format_downgrades.append(f"{used} -> {self.format} (HTTP {e.status_code})")
        return True

    async def complete(self, messages: list[dict]) -> Completion:
        import openai

        t0 = time.monotonic()
        retries = 0
        while True:
            used = self.format
            try:
                raw = await self._client.chat.completions.with_raw_response.create(**self._kwargs(messages, used))
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise DistilleryError(
                    fatal_message(e, self.cfg.endpoint, self.cfg.model, self.cfg.api_key_env)
                ) from None
            except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                if self._downgrade(used, e):
                    continue
                raise TransportError("bad_request", f"HTTP {e.status_code}: {_short(e)}") from None
            except openai.APITimeoutError as e:
                n = _retries_of(e)
                raise TransportError("timeout", f"timed out after {self.cfg.timeout_s:g}s, {n} retries", n) from None
            except openai.APIConnectionError as e:
                n = _retries_of(e)
                raise TransportError("connection", f"{_os_reason(e) or _short(e)}, {n} retries", n) from None
            except openai.RateLimitError as e:
                n = _retries_of(e)
                raise TransportError("rate_limited", f"HTTP 429, {n} retries", n) from None
            except openai.APIStatusError as e:
                n = _retries_of(e)
                kind = "server_error" if e.status_code >= 500 else f"http_{e.status_code}"
                raise TransportError(kind, f"HTTP {e.status_code}: {_short(e)}, {n} retries", n) from None
            retries += raw.retries_taken
            completion = _chat_completion(raw, self.cfg.endpoint)
            break
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        text = message.content if message else None
        usage = completion.usage
        if usage is not None and usage.prompt_tokens is not None:
            pt, ct, est = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0), False
        else:  # some servers omit usage: estimate, and say so in the ledger
            pt = sum(estimate_tokens(m["content"]) for m in messages)
            ct = estimate_tokens(text or "")
            est = True
        return Completion(
            text=text,
            finish_reason=choice.finish_reason if choice else None,
            refusal=getattr(message, "refusal", None) if message else None,
            prompt_tokens=pt,
            completion_tokens=ct,
            usage_estimated=est,
            retries=retries,
            latency_s=time.monotonic() - t0,
            response_format=used,
        )

    async def close(self) -> None:
        await self._client.close()


def _chat_completion(raw, endpoint: str):
    """The chat completion in an HTTP 200 answer; a :class:`DistilleryError` naming the endpoint and what
    came back when it is not one (a proxy's login page, a web server's index, a non-JSON body): such an
    endpoint answers every request the same way, so the run stops instead of recording junk."""
    from openai.types.chat import ChatCompletion

    try:
        completion = raw.parse()
    except (ValueError, TypeError):  # a JSON content type with a body that is not JSON
        completion = None
    if isinstance(completion, ChatCompletion) and isinstance(getattr(completion, "choices", None), list):
        return completion
    resp = raw.http_response
    ctype = resp.headers.get("content-type", "no content type").split(";")[0].strip()
    what = "JSON that is not a chat completion" if isinstance(completion, ChatCompletion) else "a non-JSON body"
    raise DistilleryError(
        f"the oracle endpoint {redact_url(endpoint)} answered HTTP {resp.status_code} with {what} ({ctype}, starts "
        f"{_start(resp.text)!r}): is this an OpenAI-compatible endpoint? check --base-url"
    )


def _os_reason(e: BaseException) -> str | None:
    """The operating system's reason under the SDK's "Connection error." ("connection refused",
    "name or service not known", ...), from the innermost ``OSError`` in the exception chain."""
    reason, seen = None, set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            reason = os.strerror(e.errno) if e.errno > 0 else (e.strerror or reason)
        e = e.__cause__ or e.__context__
    return reason[:1].lower() + reason[1:] if reason else None


def _start(text: str, limit: int = 60) -> str:
    """The first ``limit`` characters of ``text`` on one line."""
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _retries_of(e: openai.APIError) -> int:
    """How many times the SDK retried the request that finally failed."""
    try:
        return int(e.request.headers.get("x-stainless-retry-count", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


def _short(e: Exception, limit: int = 200) -> str:
    """A one-line, bounded error text (server bodies can be long)."""
    return _start(str(getattr(e, "message", None) or e), limit)
