"""The oracle settings every oracle-calling command shares (``score``, ``synthesize``, ``active-learn``).

:class:`OracleOptions` holds what the command line says about the oracle: the provider preset,
the config flags (None: not given, the preset's or default.yaml's value applies), ``--set``
overrides, the ``--max-cost`` ceiling and the ledger / cache policy. :meth:`OracleOptions.resolve`
turns it into the validated :class:`~distillery.oracle.config.OracleConfig` and its prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillery.oracle.config import OracleConfig, Prices, resolve


@dataclass
class OracleOptions:
    preset: str | None = None  # --oracle: a preset in conf/oracle/ or a YAML path
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_answer_tokens: int | None = None  # --max-tokens (config key max_tokens): the answer's cap
    response_format: str | None = None
    concurrency: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    price_in: float | None = None  # USD per 1M prompt tokens
    price_out: float | None = None  # USD per 1M completion tokens
    poll_interval_s: float | None = None  # Batch API polling
    overrides: list[str] = field(default_factory=list)  # --set key=value
    max_cost: float | None = None  # USD ceiling for the run
    ledger: str | None = None  # the ledger file (None: the command's default)
    ignore_cache: bool = False  # ask again even when the ledger has an answer
    retry_failed: bool = False  # re-ask what was given up as invalid

    def config_flags(self) -> dict[str, Any]:
        """The config layer these options make (config keys as in conf/oracle/*.yaml; None: not given)."""
        flags: dict[str, Any] = {
            "model": self.model,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "temperature": self.temperature,
            "max_tokens": self.max_answer_tokens,
            "response_format": self.response_format,
            "concurrency": self.concurrency,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
        }
        price = {k: v for k, v in (("input", self.price_in), ("output", self.price_out)) if v is not None}
        if price:
            flags["price"] = price
        if self.poll_interval_s is not None:
            flags["batch"] = {"poll_interval_s": self.poll_interval_s}
        return flags

    def resolve(self) -> tuple[OracleConfig, Prices]:
        """(config, prices): default.yaml < preset < flags < overrides, validated; ``max_cost``
        needs a known price."""
        return resolve(self.preset, self.config_flags(), self.overrides, self.max_cost)
