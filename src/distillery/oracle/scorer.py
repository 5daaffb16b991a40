"""The concurrent scorer: a bounded pool of workers sending articles to the oracle.

``concurrency`` workers share one queue (so at most that many requests are in flight), one
rate limiter (requests and tokens per minute), one budget (``--max-cost``) and one ledger.
Every answer is written to the ledger the moment it arrives; a job whose key the ledger already
answered never reaches the queue. See :mod:`distillery.oracle.ledger` for the statuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from distillery.errors import DistilleryError
from distillery.filters.prompt import render_messages
from distillery.filters.spec import FilterSpec
from distillery.oracle.client import Completion, OracleClient, TransportError, estimate_tokens
from distillery.oracle.config import OracleConfig, Prices, redact_url
from distillery.oracle.ledger import Ledger, cache_key, sha
from distillery.oracle.parsing import Answer, InvalidAnswer, parse_answer
from distillery.oracle.ratelimit import RateLimiter


@dataclass
class OracleJob:
    """One article to ask the oracle about."""

    key: str
    article: dict
    messages: list[dict]
    est_prompt_tokens: int
    reason: str = "passed"  # the prefilter's verdict ("passed", or the block reason when audited)
    audit: bool = False  # a blocked article sent only to measure the prefilter


def article_sha(article: dict) -> str:
    return hashlib.sha256(f"{article.get('title') or ''}\n{article.get('content') or ''}".encode()).hexdigest()


def build_job(
    spec: FilterSpec, cfg: OracleConfig, article: dict, system_prompt: str, reason: str = "passed", audit: bool = False
) -> OracleJob:
    messages = render_messages(spec, article, system_prompt, cfg.system_role)
    key = cache_key(spec.ref, cfg.model, cfg.sampling(), messages)
    est = sum(estimate_tokens(m["content"]) for m in messages)
    return OracleJob(key=key, article=article, messages=messages, est_prompt_tokens=est, reason=reason, audit=audit)


@dataclass
class RunStats:
    """What one run did (cached answers cost nothing and are counted separately)."""

    scored: int = 0  # new valid answers
    failed: int = 0  # gave up after invalid answers (kept as failed records)
    errors: int = 0  # requests with no answer after the SDK's retries
    invalid_answers: int = 0  # paid answers that failed validation (each re-asked or given up)
    reasks: int = 0  # requests sent again because an earlier answer for the same key was invalid
    http_retries: int = 0  # retries the SDK made (timeouts, 429, 5xx)
    not_scored: int = 0  # left out because the run stopped (cost ceiling, error streak)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    stopped: str | None = None  # why the run stopped early
    format_downgrades: list[str] = field(default_factory=list)
    repairs: int = 0  # answers accepted after a safe repair
    last_error: str | None = None  # the last request error ("connection refused, 1 retries")

    def unanswered(self, endpoint: str) -> str | None:
        """The one error line for a run whose every request failed (endpoint down, every request
        timed out): it did not do its job, whatever the ledger had cached."""
        if self.errors and not (self.scored or self.invalid_answers):
            return (
                f"the oracle endpoint {redact_url(endpoint)} gave no answer to any of the {self.errors} "
                f"request(s) sent: {self.last_error}"
            )
        return None

    def as_dict(self) -> dict:
        return asdict(self)


class OracleStopped(DistilleryError):
    """A fatal oracle error (bad key, not an OpenAI-compatible endpoint, ...) that stopped a run;
    ``stats``: what the run did before, so its caller can still write what was paid for."""

    def __init__(self, message: str, stats: RunStats):
        super().__init__(message)
        self.stats = stats


class Budget:
    """``--max-cost``: reserve a pessimistic estimate before each request, settle on the bill.

    A request is sent only if spent + reserved (in flight) + its estimate <= the ceiling, so the
    ceiling holds as long as the estimate bounds the bill (3 chars/token for the prompt and the
    full ``max_answer_tokens`` for the answer: generous for text, not a proof for every script).
    """

    def __init__(self, ceiling: float | None, spent: float = 0.0):
        self.ceiling = ceiling
        self.spent = spent
        self.reserved = 0.0

    def try_reserve(self, estimate: float) -> bool:
        if self.ceiling is not None and self.spent + self.reserved + estimate > self.ceiling + 1e-12:
            return False
        self.reserved += estimate
        return True

    def settle(self, estimate: float, actual: float) -> None:
        self.reserved = max(0.0, self.reserved - estimate)
        self.spent += actual

    def check_one_call(self, prices: Prices, cfg: OracleConfig, jobs: list[OracleJob], batch: bool = False) -> None:
        """A :class:`DistilleryError` when not even the cheapest of ``jobs`` fits under the ceiling: such a
        run would send nothing, and re-running it never continues."""
        if self.ceiling is None or not jobs:
            return
        job = min(jobs, key=lambda j: j.est_prompt_tokens)
        price = call_estimate(prices, cfg, job, batch)
        if self.spent + price > self.ceiling + 1e-12:
            raise DistilleryError(
                f"--max-cost ${self.ceiling:g} is below the price of one call (${price:.6f} at most: ~"
                f"{job.est_prompt_tokens:,} prompt + {cfg.max_answer_tokens:,} answer tokens to {cfg.model}); "
                "nothing was sent: raise --max-cost (or lower --max-tokens)"
            )


def call_estimate(prices: Prices, cfg: OracleConfig, job: OracleJob, batch: bool = False) -> float:
    """What ``--max-cost`` reserves for one request: the prompt at 3 chars/token plus the full answer cap."""
    return prices.cost(job.est_prompt_tokens, cfg.max_answer_tokens, batch=batch)


def base_record(job: OracleJob, spec: FilterSpec, cfg: OracleConfig, system_prompt_sha: str, mode: str) -> dict:
    return {
        "key": job.key,
        "article_id": job.article.get("id"),
        "article_sha": article_sha(job.article),
        "filter": spec.ref,
        "provider": cfg.provider,
        "model": cfg.model,
        "sampling": cfg.sampling(),
        "prompt_sha": system_prompt_sha,
        "mode": mode,
    }


def answer_fields(c: Completion, prices: Prices, batch: bool = False) -> dict:
    return {
        "raw": c.text,
        "finish_reason": c.finish_reason,
        "usage": {
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "estimated": c.usage_estimated,
        },
        "cost_usd": round(prices.cost(c.prompt_tokens, c.completion_tokens, batch=batch), 10),
        "http_retries": c.retries,
        "latency_s": round(c.latency_s, 4),
        "response_format": c.response_format,
    }


def judge(c: Completion, spec: FilterSpec) -> tuple[str, dict]:
    """Parse and validate one completion -> (status, fields for the ledger record)."""
    try:
        ans: Answer = parse_answer(c.text, spec, c.finish_reason, c.refusal)
    except InvalidAnswer as e:
        return "invalid", {"error_type": e.kind, "error": e.message}
    return "ok", {
        "labels": ans.labels,
        "evidence": ans.evidence,
        "content_type": ans.content_type,
        "repairs": ans.repairs,
    }


class OracleScorer:
    """Scores jobs concurrently into the ledger. ``on_done(job, status, run_stats)`` drives progress."""

    def __init__(
        self,
        spec: FilterSpec,
        cfg: OracleConfig,
        ledger: Ledger,
        client: OracleClient,
        prices: Prices,
        system_prompt: str,
        budget: Budget | None = None,
        on_done: Callable[[OracleJob, str, RunStats], None] | None = None,
    ):
        self.spec, self.cfg, self.ledger, self.client, self.prices = spec, cfg, ledger, client, prices
        self.prompt_sha = sha(system_prompt)
        self.budget = budget or Budget(None)
        self.limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self.on_done = on_done or (lambda job, status, stats: None)
        self.stats = RunStats()
        self._streak = 0
        self.max_attempts = 1 + cfg.invalid_retries
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    async def _append(self, record: dict) -> None:
        """Write to the ledger on one writer thread: fsync then does not stall the event loop,
        records keep their order, and the worker continues only once its answer is durable."""
        await asyncio.get_running_loop().run_in_executor(self._writer, self.ledger.append, record)

    # ---- what a request is, and what makes its answer valid (``synthesize`` overrides both) ----
    def base_record(self, job: OracleJob) -> dict:
        return base_record(job, self.spec, self.cfg, self.prompt_sha, "online")

    def judge(self, c: Completion) -> tuple[str, dict]:
        return judge(c, self.spec)

    def estimate_cost(self, job: OracleJob) -> float:
        return call_estimate(self.prices, self.cfg, job)

    async def _score(self, job: OracleJob, prior_invalid: int) -> None:
        attempt = prior_invalid
        while attempt < self.max_attempts:
            if self.stats.stopped:
                self.stats.not_scored += 1
                self.on_done(job, "not_scored", self.stats)
                return
            estimate = self.estimate_cost(job)
            if not self.budget.try_reserve(estimate):
                self.stats.stopped = self.stats.stopped or "max_cost"
                continue  # counted as not_scored above
            est_tokens = job.est_prompt_tokens + self.cfg.max_answer_tokens
            await self.limiter.acquire(est_tokens)
            self.stats.reasks += attempt > 0
            record = self.base_record(job)
            try:
                c = await self.client.complete(job.messages)
            except TransportError as e:
                self.budget.settle(estimate, 0.0)
                self.limiter.settle(est_tokens, 0)
                self.stats.errors += 1
                self.stats.last_error = e.message
                self.stats.http_retries += e.retries
                await self._append(
                    {**record, "status": "error", "error_type": e.kind, "error": e.message, "cost_usd": 0.0}
                )
                self._streak += 1
                if self._streak >= self.cfg.max_consecutive_errors:
                    self.stats.stopped = self.stats.stopped or f"{self._streak} consecutive request errors ({e.kind})"
                self.on_done(job, "error", self.stats)
                return
            self._streak = 0
            fields = answer_fields(c, self.prices)
            self.budget.settle(estimate, fields["cost_usd"])
            self.limiter.settle(est_tokens, c.prompt_tokens + c.completion_tokens)
            self.stats.http_retries += c.retries
            self.stats.prompt_tokens += c.prompt_tokens
            self.stats.completion_tokens += c.completion_tokens
            self.stats.cost_usd += fields["cost_usd"]
            attempt += 1
            status, verdict = self.judge(c)
            await self._append({**record, "status": status, "attempt": attempt, **verdict, **fields})
            if status == "ok":
                self.stats.scored += 1
                self.stats.repairs += bool(verdict["repairs"])
                self.on_done(job, "ok", self.stats)
                return
            self.stats.invalid_answers += 1
        else:
            self.stats.failed += 1
            self.on_done(job, "failed", self.stats)

    async def run(self, jobs: list[tuple[OracleJob, int]]) -> RunStats:
        """Score ``(job, invalid answers already in the ledger)`` pairs; returns this run's stats."""
        t0 = time.monotonic()
        queue = deque(jobs)

        async def worker() -> None:
            while queue:
                job, prior = queue.popleft()
                await self._score(job, prior)

        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(min(self.cfg.concurrency, len(queue)) or 0):
                    tg.create_task(worker())
        except* DistilleryError as eg:
            raise OracleStopped(str(eg.exceptions[0]), self.stats) from None
        finally:
            self._writer.shutdown(wait=True)
            self.stats.elapsed_s = time.monotonic() - t0
            self.stats.format_downgrades = list(self.client.format_downgrades)
        return self.stats
