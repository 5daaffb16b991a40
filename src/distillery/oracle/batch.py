"""OpenAI Batch API mode: the same jobs and ledger, at the batch discount, asynchronously.

``score --batch`` writes the uncached requests as a Batch API JSONL file (``custom_id`` = the
cache key), uploads it (files API, purpose ``batch``), creates the batch, polls it and writes
every result into the same ledger as online answers (status ok/invalid/error, ``mode: batch``,
cost at ``batch_discount``). Each step is recorded in ``<out>/batches.jsonl`` (fsynced), so a
killed run resumes: re-running the command first polls and collects the batches it created and
has not collected yet (or the one given with ``--batch-id``), then submits what is still
missing. A batch whose creation was interrupted before its id was recorded is found again by
its input file id.

Invalid answers are not re-asked inside a batch: they are recorded, and the next run (batch or
online) re-asks them while attempts remain.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.oracle.client import Completion, OracleClient
from distillery.oracle.config import OracleConfig, Prices, redact_url
from distillery.oracle.ledger import Ledger
from distillery.oracle.scorer import (
    Budget,
    OracleJob,
    OracleStopped,
    RunStats,
    answer_fields,
    base_record,
    call_estimate,
    judge,
)

TERMINAL = {"completed", "failed", "expired", "cancelled"}
ENDPOINT = "/v1/chat/completions"


def completion_from_body(body: dict, fmt: str) -> Completion:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    usage = body.get("usage") or {}
    return Completion(
        text=message.get("content"),
        finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        usage_estimated=not usage,
        retries=0,
        latency_s=0.0,
        response_format=fmt,
    )


class BatchState:
    """``batches.jsonl``: one fsynced line per event (uploaded, created, collected)."""

    def __init__(self, path: Path):
        self.path = path
        self.events: list[dict] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a torn last line: the step it described is redone or found again

    def add(self, event: dict) -> None:
        event = {**event, "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.events.append(event)

    def open_batches(self) -> list[str]:
        created = [e["batch_id"] for e in self.events if e["event"] == "created"]
        done = {e["batch_id"] for e in self.events if e["event"] == "collected"}
        return [b for b in created if b not in done]

    def orphan_uploads(self) -> list[str]:
        """Uploaded input files with no recorded batch (killed between upload and create)."""
        uploaded = [e["file_id"] for e in self.events if e["event"] == "uploaded"]
        used = {e.get("input_file_id") for e in self.events if e["event"] == "created"}
        return [f for f in uploaded if f not in used]


class BatchRunner:
    def __init__(
        self,
        spec: FilterSpec,
        cfg: OracleConfig,
        ledger: Ledger,
        client: OracleClient,
        prices: Prices,
        system_prompt_sha: str,
        out_dir: Path,
        budget: Budget | None = None,
        log: Callable[[str], None] | None = None,
    ):
        """``budget`` (``--max-cost``) bounds what this run *submits*: requests are added to a
        batch while their pessimistic estimate (at the batch discount) fits."""
        self.spec, self.cfg, self.ledger, self.client, self.prices = spec, cfg, ledger, client, prices
        self.prompt_sha = system_prompt_sha
        self.out_dir = out_dir
        self.state = BatchState(out_dir / "batches.jsonl")
        self.budget = budget or Budget(None)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stats = RunStats()
        self._gave_up: set[str] = set()
        self.api = client.sdk  # the AsyncOpenAI instance (files and batches resources)
        self.fmt = "json_schema" if cfg.response_format == "auto" else cfg.response_format

    # ---- collecting -----------------------------------------------------------------------------
    def _record(self, key: str, jobs: dict[str, OracleJob], batch_id: str, line: dict) -> None:
        job = jobs.get(key)
        base = (
            base_record(job, self.spec, self.cfg, self.prompt_sha, "batch")
            if job
            else {
                "key": key,
                "filter": self.spec.ref,
                "provider": self.cfg.provider,
                "model": self.cfg.model,
                "sampling": self.cfg.sampling(),
                "prompt_sha": self.prompt_sha,
                "mode": "batch",
            }
        )
        base["batch_id"] = batch_id
        response = line.get("response") or {}
        if line.get("error") or response.get("status_code") != 200:
            err = line.get("error") or (response.get("body") or {}).get("error") or {}
            error = f"HTTP {response.get('status_code')}: {err.get('message', err)}"[:300]
            self.ledger.append(
                {**base, "status": "error", "error_type": "batch_request_failed", "error": error, "cost_usd": 0.0}
            )
            self.stats.errors += 1
            self.stats.last_error = error
            return
        c = completion_from_body(response.get("body") or {}, self.fmt)
        fields = answer_fields(c, self.prices, batch=True)
        prior = len(self.ledger.state(key).invalid)
        self.stats.reasks += prior > 0
        status, verdict = judge(c, self.spec)
        self.ledger.append({**base, "status": status, "attempt": prior + 1, **verdict, **fields})
        self.stats.prompt_tokens += c.prompt_tokens
        self.stats.completion_tokens += c.completion_tokens
        self.stats.cost_usd += fields["cost_usd"]
        if status == "ok":
            self.stats.scored += 1
            self.stats.repairs += bool(verdict["repairs"])
        else:
            self.stats.invalid_answers += 1
            if prior + 1 >= 1 + self.cfg.invalid_retries:
                self.stats.failed += 1
                self._gave_up.add(key)

    async def _read_file(self, file_id: str) -> list[dict]:
        content = await self.api.files.content(file_id)
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    async def collect(self, batch_id: str, jobs: dict[str, OracleJob]) -> None:
        """Poll ``batch_id`` until it ends, then write its results to the ledger."""
        batch = await self.api.batches.retrieve(batch_id)
        last = None
        while batch.status not in TERMINAL:
            counts = batch.request_counts
            msg = f"batch {batch_id}: {batch.status}" + (f" ({counts.completed}/{counts.total})" if counts else "")
            if msg != last:
                self.log(msg)
                last = msg
            await asyncio.sleep(self.cfg.batch.poll_interval_s)
            batch = await self.api.batches.retrieve(batch_id)
        self.log(f"batch {batch_id}: {batch.status}")
        lines: list[dict] = []
        for fid in (batch.output_file_id, batch.error_file_id):
            if fid:
                lines += await self._read_file(fid)
        seen = set()
        for line in lines:
            key = line.get("custom_id")
            if key and key not in seen and key not in self.ledger:
                seen.add(key)
                self._record(key, jobs, batch_id, line)
        if batch.status == "failed" and not lines:
            errors = getattr(batch, "errors", None)
            detail = "; ".join(f"{e.code}: {e.message}" for e in (errors.data or [])) if errors and errors.data else ""
            self.state.add({"event": "collected", "batch_id": batch_id, "status": batch.status})
            raise DistilleryError(f"batch {batch_id} failed{': ' + detail if detail else ''}")
        self.state.add({"event": "collected", "batch_id": batch_id, "status": batch.status, "results": len(seen)})

    # ---- submitting -----------------------------------------------------------------------------
    async def _find_batch_for(self, file_id: str) -> str | None:
        page = await self.api.batches.list(limit=100)
        for b in page.data:
            if b.input_file_id == file_id:
                return b.id
        return None

    async def submit(self, pending: list[OracleJob]) -> str | None:
        """Upload the requests and create one batch; returns its id (None if nothing fits)."""
        self.budget.check_one_call(self.prices, self.cfg, pending, batch=True)
        lines, chosen = [], []
        for job in pending:
            estimate = call_estimate(self.prices, self.cfg, job, batch=True)
            if not self.budget.try_reserve(estimate):
                self.stats.stopped = "max_cost"
                self.stats.not_scored += len(pending) - len(chosen)
                break
            chosen.append(job)
            body = self.client.request_body(job.messages)
            lines.append(json.dumps({"custom_id": job.key, "method": "POST", "url": ENDPOINT, "body": body}))
        if not chosen:
            return None
        n = len([e for e in self.state.events if e["event"] == "uploaded"])
        path = self.out_dir / f"batch_input_{n:03d}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        uploaded = await self.api.files.create(
            file=(path.name, path.read_bytes(), "application/jsonl"), purpose="batch"
        )
        self.state.add({"event": "uploaded", "file_id": uploaded.id, "path": path.name, "requests": len(chosen)})
        batch = await self.api.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=self.cfg.batch.completion_window,
            metadata={"distillery_filter": self.spec.ref, "distillery_requests": str(len(chosen))},
        )
        self.state.add(
            {"event": "created", "batch_id": batch.id, "input_file_id": uploaded.id, "requests": len(chosen)}
        )
        self.log(
            f"created batch {batch.id} with {len(chosen)} requests (input file {uploaded.id}); "
            f"resume with: --batch --batch-id {batch.id}"
        )
        return batch.id

    async def run(self, jobs: list[OracleJob], pending: list[OracleJob], batch_id: str | None = None) -> RunStats:
        import openai  # ~0.7 s to import: only when a batch runs

        try:
            return await self._run(jobs, pending, batch_id)
        except openai.APIStatusError as e:
            where = redact_url(self.cfg.endpoint)
            if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
                msg = (
                    f"the Batch API at {where} rejected the API key (HTTP {e.status_code}): "
                    f"check ${self.cfg.api_key_env}"
                )
            else:
                msg = (
                    f"the Batch API at {where} failed with HTTP {e.status_code} (does this endpoint "
                    "offer /files and /batches? run without --batch otherwise); "
                    f"{len(self.state.open_batches())} batch(es) open in {self.state.path}"
                )
        except openai.APIError as e:  # connection errors and timeouts after the SDK's retries
            msg = (
                f"the Batch API at {redact_url(self.cfg.endpoint)} is unreachable "
                f"({type(e).__name__}); re-run the same command to resume "
                f"({len(self.state.open_batches())} batch(es) open in {self.state.path})"
            )
        except DistilleryError as e:  # a failed batch
            msg = str(e)
        raise OracleStopped(msg, self.stats)  # what was collected is in the ledger: the caller writes it

    async def _run(self, jobs: list[OracleJob], pending: list[OracleJob], batch_id: str | None) -> RunStats:
        t0 = time.monotonic()
        by_key = {j.key: j for j in jobs}
        try:
            resume = [batch_id] if batch_id else self.state.open_batches()
            for fid in [] if batch_id else self.state.orphan_uploads():
                found = await self._find_batch_for(fid)
                if found:
                    self.state.add({"event": "created", "batch_id": found, "input_file_id": fid, "found": True})
                    resume.append(found)
            for bid in dict.fromkeys(resume):
                await self.collect(bid, by_key)
            todo = list({j.key: j for j in pending if j.key not in self.ledger and j.key not in self._gave_up}.values())
            if todo and not batch_id:
                new_id = await self.submit(todo)
                if new_id:
                    await self.collect(new_id, by_key)
        finally:
            self.stats.elapsed_s = time.monotonic() - t0
        return self.stats
