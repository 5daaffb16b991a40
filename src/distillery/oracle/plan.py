"""Planning oracle requests: which jobs to send, given the ledger, and what sending them costs.

Shared by ``distillery score``, ``synthesize`` and ``active-learn``: :func:`scoring_jobs` turns
articles into scoring jobs (prefilter, prompt, cache key), :func:`plan_jobs` checks each job's key
against the ledger (a paid answer is never asked for again) and :func:`cost_estimate` prices what
is left to send.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from distillery.filters.prefilter import Prefilter
from distillery.filters.prompt import render_system_prompt
from distillery.filters.spec import FilterSpec
from distillery.oracle.config import OracleConfig, Prices
from distillery.oracle.ledger import Ledger
from distillery.oracle.scorer import OracleJob, build_job

TYPICAL_ANSWER_TOKENS_PER_DIM = 45  # {"evidence": "<a quote>", "score": n} per dimension


@dataclass
class JobPlan:
    """What a run has to send: ``pending`` (job, invalid answers already in the ledger) pairs, and
    how many jobs the ledger already answered (``cached``) or gave up on (``given_up``)."""

    pending: list[tuple[OracleJob, int]] = field(default_factory=list)
    cached: int = 0
    given_up: int = 0


def plan_jobs(
    jobs: list[OracleJob], ledger: Ledger, cfg: OracleConfig, ignore_cache: bool = False, retry_failed: bool = False
) -> JobPlan:
    """Check every job against the ledger. The same key twice is asked once; a key with a valid
    answer is cached (unless ``ignore_cache``); one with ``1 + invalid_retries`` invalid answers
    was given up (unless ``retry_failed``, which also restarts its attempt count)."""
    max_attempts = 1 + cfg.invalid_retries
    plan, seen = JobPlan(), set()
    for job in jobs:
        if job.key in seen:  # the same text twice: asked once
            continue
        seen.add(job.key)
        st = ledger.state(job.key)
        if ignore_cache:
            plan.pending.append((job, 0))
        elif st.ok:
            plan.cached += 1
        elif len(st.invalid) >= max_attempts and not retry_failed:
            plan.given_up += 1
        else:
            plan.pending.append((job, 0 if retry_failed else len(st.invalid)))
    return plan


@dataclass
class ScoringJobs:
    """Articles through the prefilter, as scoring jobs: the passed ones, then the audited blocked ones."""

    jobs: list[OracleJob]
    system_prompt: str
    passed: list[dict]
    blocked: list[tuple[dict, str]]  # (article, prefilter reason)
    reasons: Counter  # prefilter verdicts: reason -> articles
    audited: int = 0


def scoring_jobs(
    spec: FilterSpec, cfg: OracleConfig, articles: list[dict], audit_blocked: int = 0, seed: int = 0
) -> ScoringJobs:
    """Prefilter ``articles`` and build a scoring job for each that passed, plus ``audit_blocked``
    blocked ones (drawn with ``seed``) sent only to measure the prefilter."""
    prefilter = Prefilter(spec)
    verdicts = [prefilter.check(a) for a in articles]
    passed = [a for a, v in zip(articles, verdicts) if v.passed]
    blocked = [(a, v.reason) for a, v in zip(articles, verdicts) if not v.passed]
    audit = random.Random(seed).sample(blocked, min(audit_blocked, len(blocked))) if audit_blocked else []
    system_prompt = render_system_prompt(spec)
    jobs = [build_job(spec, cfg, a, system_prompt) for a in passed]
    jobs += [build_job(spec, cfg, a, system_prompt, reason=r, audit=True) for a, r in audit]
    return ScoringJobs(
        jobs=jobs,
        system_prompt=system_prompt,
        passed=passed,
        blocked=blocked,
        reasons=Counter(v.reason for v in verdicts),
        audited=len(audit),
    )


def cost_estimate(spec: FilterSpec, cfg: OracleConfig, prices: Prices, pending: list[tuple[OracleJob, int]]) -> dict:
    """What sending ``pending`` (:attr:`JobPlan.pending`) would cost: prompt tokens estimated at
    3 characters/token; answers ``typical`` (~45 tokens per dimension) or ``at most``
    (max_answer_tokens, the bound ``--max-cost`` reserves per request). Costs are 0 when no price
    is known."""
    n = len(pending)
    prompt_toks = sum(j.est_prompt_tokens for j, _ in pending)
    out: dict = {"articles": n, "prompt_tokens": prompt_toks, "price_known": prices.known}
    for label, out_toks in (
        ("typical", (TYPICAL_ANSWER_TOKENS_PER_DIM * len(spec.dimensions) + 20) * n),
        ("at most", cfg.max_answer_tokens * n),
    ):
        out[label] = {
            "answer_tokens": out_toks,
            "cost_usd": prices.cost(prompt_toks, out_toks),
            "cost_usd_batch": prices.cost(prompt_toks, out_toks, batch=True),
        }
    return out
