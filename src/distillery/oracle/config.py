"""Oracle configuration: ``conf/oracle/default.yaml`` < preset < CLI flags < ``--set`` overrides.

The API key is deliberately *not* part of the config: :func:`api_key` reads it from the
environment variable named by ``api_key_env`` and returns a ``SecretStr``; nothing that is
written to disk (run config, ledger, reports) ever holds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from distillery.errors import DistilleryError
from distillery.paths import conf_dir

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Price(_Strict):
    input: float | None = Field(default=None, ge=0, description="USD per 1M prompt tokens")
    output: float | None = Field(default=None, ge=0, description="USD per 1M completion tokens")


class BatchConfig(_Strict):
    completion_window: str = "24h"
    poll_interval_s: float = Field(default=30, gt=0)


class OracleConfig(_Strict):
    """Everything about how the oracle is called (see conf/oracle/default.yaml for docs)."""

    provider: str = "openai"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    model: str = "gpt-4o-mini"
    temperature: float | None = Field(default=0.3, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # the cap on the oracle's answer; config key / flag ``max_tokens`` / ``--max-tokens`` (the alias),
    # named apart from the student's ``context_strategy.max_tokens``
    max_answer_tokens: int = Field(default=1500, ge=16, alias="max_tokens")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    seed: int | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    system_role: bool = True
    concurrency: int = Field(default=16, ge=1)
    requests_per_minute: float | None = Field(default=500, gt=0)
    tokens_per_minute: float | None = Field(default=2_000_000, gt=0)
    timeout_s: float = Field(default=120, gt=0)
    max_retries: int = Field(default=5, ge=0)
    invalid_retries: int = Field(default=2, ge=0)
    max_consecutive_errors: int = Field(default=25, ge=1)
    price: Price = Field(default_factory=Price)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    # ---- derived ------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL

    @property
    def is_local(self) -> bool:
        return (urlsplit(self.endpoint).hostname or "") in LOCAL_HOSTS

    def sampling(self) -> dict[str, Any]:
        """The request parameters that change answers: part of every cache key."""
        out: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_answer_tokens,
            "seed": self.seed,
        }
        out = {k: v for k, v in out.items() if v is not None}
        if self.extra_body:
            out["extra_body"] = self.extra_body
        return out

    def public_dict(self) -> dict[str, Any]:
        """The config as written to run folders: no secrets, credentials stripped from URLs."""
        d = self.model_dump(by_alias=True)  # config keys as written in conf/oracle/*.yaml
        d["base_url"] = redact_url(self.endpoint)
        return d


def redact_url(url: str) -> str:
    """Drop any ``user:password@`` part of a URL."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def oracle_conf_dir() -> Path:
    return conf_dir() / "oracle"


def presets() -> list[str]:
    return sorted(p.stem for p in oracle_conf_dir().glob("*.yaml") if p.stem not in ("default", "prices"))


def load_config(
    preset: str | None = None, flags: dict[str, Any] | None = None, overrides: list[str] | None = None
) -> OracleConfig:
    """Merge default.yaml, an optional preset (name or path), CLI flags (None = not given) and
    ``key=value`` overrides; validate strictly (unknown keys are errors)."""
    folder = oracle_conf_dir()
    layers = [OmegaConf.load(folder / "default.yaml")]
    if preset:
        path = Path(preset)
        if not path.is_file():
            path = folder / f"{preset}.yaml"
        if not path.is_file():
            raise DistilleryError(f"unknown oracle preset {preset!r}; known: {', '.join(presets())} (or a YAML path)")
        layers.append(OmegaConf.load(path))
    if flags:
        layers.append(OmegaConf.create({k: v for k, v in flags.items() if v is not None}))
    try:
        if overrides:
            layers.append(OmegaConf.from_dotlist(list(overrides)))
        merged = OmegaConf.to_container(OmegaConf.merge(*layers), resolve=True)
    except OmegaConfBaseException as e:
        raise DistilleryError(f"oracle config: {e}".splitlines()[0]) from None
    if isinstance(merged, dict) and "max_answer_tokens" in merged:  # the field's own name beats the key
        merged["max_tokens"] = merged.pop("max_answer_tokens")
    try:
        return OracleConfig.model_validate(merged)
    except ValidationError as e:
        msgs = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        raise DistilleryError("oracle config: " + "; ".join(msgs)) from None


def resolve(
    preset: str | None, flags: dict[str, Any] | None, overrides: list[str] | None, max_cost: float | None
) -> tuple[OracleConfig, Prices]:
    """(config, prices) for a run; ``--max-cost`` needs a known price (a one-line error)."""
    cfg = load_config(preset, flags, overrides)
    prices = Prices(cfg)
    if max_cost is not None and not prices.known:
        raise DistilleryError(
            f"--max-cost needs a price for model {cfg.model!r}: add it to "
            "conf/oracle/prices.yaml or pass --price-in/--price-out"
        )
    return cfg, prices


def api_key(cfg: OracleConfig) -> SecretStr:
    """The API key from ``$<api_key_env>`` (a placeholder for local servers, which ignore it)."""
    value = os.environ.get(cfg.api_key_env)
    if value:
        return SecretStr(value)
    if cfg.is_local:
        return SecretStr("not-needed")
    raise DistilleryError(
        f"no API key: set the environment variable {cfg.api_key_env} for {redact_url(cfg.endpoint)} "
        "(keys are read from the environment only and never written to disk)"
    )


# ---- prices ---------------------------------------------------------------------------------
class Prices:
    """Per-token prices for one model (USD), with the batch discount."""

    def __init__(self, cfg: OracleConfig):
        table = OmegaConf.to_container(OmegaConf.load(oracle_conf_dir() / "prices.yaml"))
        assert isinstance(table, dict)
        self.batch_discount = float(table.get("batch_discount", 0.5))
        models: dict[str, dict] = table.get("models") or {}
        match = max((m for m in models if cfg.model.startswith(m)), key=len, default=None)
        listed = models.get(match, {}) if match else {}
        inp = cfg.price.input if cfg.price.input is not None else listed.get("input")
        out = cfg.price.output if cfg.price.output is not None else listed.get("output")
        self.known = inp is not None and out is not None
        self.input_per_token = float(inp or 0) / 1e6
        self.output_per_token = float(out or 0) / 1e6
        self.source = "config" if cfg.price.input is not None else (f"prices.yaml:{match}" if match else "unknown")

    def cost(self, prompt_tokens: int, completion_tokens: int, batch: bool = False) -> float:
        c = prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token
        return c * (self.batch_discount if batch else 1.0)
