"""Pydantic models of the training config groups that decide what a run means.

:func:`distillery.config.validate_train_config` checks a composed Hydra config against these
before anything heavy is imported (no torch, lightning or transformers here), and reports every
problem at once, one line per problem, each naming its dotted key::

    context_strategy.max_tokens: must be > 0 (got -5)
    trainer.max_epochs: must be an integer (got 'abc')

Groups modelled: ``context_strategy``, ``trainer``, ``optim``, ``loss``, ``data``, ``logger`` and
the top-level ``seed``. Unknown keys in these groups are errors (``extra="forbid"``): a typo such
as ``optim.weigth_decay`` must not be silently ignored. ``trainer`` accepts any Lightning
``Trainer`` argument (the list is kept here, so that Lightning need not be imported), except the
ones distillery sets itself. Other groups (model, filter, callbacks, paths, hydra) are not modelled.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

# Lightning 2.x ``Trainer.__init__`` arguments (checked against lightning's signature in the tests).
LIGHTNING_TRAINER_ARGS = frozenset(
    {
        "accelerator",
        "strategy",
        "devices",
        "num_nodes",
        "precision",
        "fast_dev_run",
        "max_epochs",
        "min_epochs",
        "max_steps",
        "min_steps",
        "max_time",
        "limit_train_batches",
        "limit_val_batches",
        "limit_test_batches",
        "limit_predict_batches",
        "overfit_batches",
        "val_check_interval",
        "check_val_every_n_epoch",
        "num_sanity_val_steps",
        "log_every_n_steps",
        "enable_checkpointing",
        "enable_model_summary",
        "accumulate_grad_batches",
        "gradient_clip_val",
        "gradient_clip_algorithm",
        "deterministic",
        "benchmark",
        "inference_mode",
        "use_distributed_sampler",
        "profiler",
        "detect_anomaly",
        "barebones",
        "plugins",
        "sync_batchnorm",
        "reload_dataloaders_every_n_epochs",
        "enable_autolog_hparams",
        "model_registry",
    }
)
# Set by the training task itself (from logger.*, callbacks.*, the run dir).
TRAINER_ARGS_SET_BY_DISTILLERY = frozenset({"logger", "callbacks", "default_root_dir", "enable_progress_bar"})

Number = Union[StrictInt, StrictFloat]  # noqa: UP007 - pydantic strict types


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContextStrategyConfig(_Strict):
    name: StrictStr | None = None
    kind: Literal["truncate", "head_tail", "chunked"] = "truncate"
    max_tokens: StrictInt = Field(512, gt=0)
    head: StrictInt = Field(256, gt=0)
    separator: StrictStr = "\n[...]\n"
    stride: StrictInt = Field(384, gt=0)
    max_chunks: StrictInt = Field(8, ge=1)
    aggregate: Literal["mean", "max"] = "mean"

    @model_validator(mode="after")
    def _head_fits(self) -> ContextStrategyConfig:
        if self.kind == "head_tail" and not 0 < self.head < self.max_tokens:
            raise _KeyError(
                "head", f"must be between 0 and max_tokens={self.max_tokens} for head_tail (exclusive; got {self.head})"
            )
        return self


class TrainerConfig(_Strict):
    model_config = ConfigDict(extra="allow", strict=True)  # other Lightning args: checked by name below

    accelerator: StrictStr = "cpu"
    strategy: StrictStr = "auto"
    devices: StrictInt | StrictStr | list[StrictInt] = 1
    num_nodes: StrictInt = Field(1, ge=1)
    precision: StrictInt | StrictStr = "32-true"
    max_epochs: StrictInt | None = 3
    min_epochs: StrictInt | None = None
    max_steps: StrictInt = -1
    gradient_clip_val: Number | None = Field(None, ge=0)
    accumulate_grad_batches: StrictInt = Field(1, ge=1)
    log_every_n_steps: StrictInt | None = Field(None, ge=1)
    num_sanity_val_steps: StrictInt | None = Field(None, ge=-1)
    deterministic: StrictBool | Literal["warn"] | None = None
    enable_model_summary: StrictBool | None = None
    limit_train_batches: Number | None = Field(None, ge=0)
    limit_val_batches: Number | None = Field(None, ge=0)
    limit_test_batches: Number | None = Field(None, ge=0)
    fast_dev_run: StrictBool | StrictInt = False
    overfit_batches: Number = Field(0.0, ge=0)
    sync_batchnorm: StrictBool = False

    @field_validator("max_epochs")
    @classmethod
    def _epochs(cls, v: int | None) -> int | None:
        if v is not None and v != -1 and v < 1:
            raise ValueError(f"must be >= 1, or -1 for no limit (got {v})")
        return v

    @model_validator(mode="after")
    def _known_args(self) -> TrainerConfig:
        problems = []
        for k in sorted(self.model_extra or {}):
            if k in TRAINER_ARGS_SET_BY_DISTILLERY:
                problems.append((k, "set by distillery itself (use the logger/callbacks groups), not a trainer key"))
            elif k not in LIGHTNING_TRAINER_ARGS:
                problems.append((k, "unknown key (not a Lightning Trainer argument)"))
        if problems:
            raise _KeyError.many(problems)
        return self


class OptimConfig(_Strict):
    lr: Number = Field(1e-3, gt=0)
    weight_decay: Number = Field(0.0, ge=0)
    scheduler: StrictStr = "linear"
    warmup_ratio: Number = Field(0.06, ge=0, le=1)
    head_lr: Number | None = Field(None, gt=0)  # the regression head's own lr; null: lr


# Loss options and the keyword arguments each accepts (train/losses.py).
LOSS_ARGS: dict[str, frozenset[str]] = {
    "mse": frozenset(),
    "hybrid_pairwise": frozenset({"lambda_", "margin"}),
    "hybrid_triplet": frozenset({"lambda_", "margin", "max_triplets"}),
    "hybrid_listmle": frozenset({"lambda_", "temperature"}),
}


class LossConfig(_Strict):
    name: Literal["mse", "hybrid_pairwise", "hybrid_triplet", "hybrid_listmle"] = "mse"
    lambda_: Number | None = Field(None, ge=0)
    margin: Number | None = Field(None, ge=0)
    temperature: Number | None = Field(None, gt=0)
    max_triplets: StrictInt | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _args_fit_loss(self) -> LossConfig:
        allowed = LOSS_ARGS[self.name]
        bad = [
            (k, f"not an argument of loss {self.name!r} (it takes: {', '.join(sorted(allowed)) or 'none'})")
            for k in ("lambda_", "margin", "temperature", "max_triplets")
            if getattr(self, k) is not None and k not in allowed
        ]
        if bad:
            raise _KeyError.many(bad)
        return self


class DataConfig(_Strict):
    source: Literal["synthetic", "jsonl"] = "synthetic"
    path: StrictStr | None = None
    paths: dict[StrictStr, StrictStr] | None = None
    n: StrictInt = Field(2400, ge=1)
    corpus_seed: StrictInt = 0
    split: list[Number] = [0.8, 0.1, 0.1]
    split_seed: StrictInt | None = 0
    synthetic_in_eval: StrictBool = False
    batch_size: StrictInt = Field(16, ge=1)
    eval_batch_size: StrictInt = Field(32, ge=1)
    group_by_length: StrictBool = True
    megabatch_mult: StrictInt | None = Field(None, ge=1)
    pad_to_max: StrictBool = False
    num_workers: StrictInt = Field(0, ge=0)
    skip_invalid: StrictBool = False
    cache_tokenized: StrictBool = True
    near_dup_threshold: Number = 0.8
    near_dups: Literal["group", "drop"] = "group"

    @field_validator("split")
    @classmethod
    def _shares(cls, v: list[float]) -> list[float]:
        if len(v) != 3:
            raise ValueError(f"must be three shares [train, val, test] (got {v})")
        out = [f"share {i} is {x}, not in [0, 1]" for i, x in enumerate(v) if not 0.0 <= x <= 1.0]
        if out:
            raise ValueError("; ".join(out) + f" (got {v})")
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"shares must sum to 1 (got {v}, sum {sum(v):g})")
        return v

    @field_validator("near_dup_threshold")
    @classmethod
    def _threshold(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise ValueError(f"must be in (0, 1] (got {v})")
        return v


class LoggerConfig(_Strict):
    kind: Literal["wandb", "csv", "none"]
    project: StrictStr | None = None
    entity: StrictStr | None = None
    group: StrictStr | None = None
    job_type: StrictStr | None = None
    tags: list[Any] | None = None
    mode: Literal["online", "offline", "disabled"] | None = None


GROUPS: dict[str, type[BaseModel]] = {
    "context_strategy": ContextStrategyConfig,
    "trainer": TrainerConfig,
    "optim": OptimConfig,
    "loss": LossConfig,
    "data": DataConfig,
    "logger": LoggerConfig,
}


class _KeyError(ValueError):
    """A problem found by a model validator, attached to its own key(s) instead of the group."""

    def __init__(self, key: str, msg: str):
        super().__init__(f"{key}: {msg}")
        self.items = [(key, msg)]

    @classmethod
    def many(cls, items: list[tuple[str, str]]) -> _KeyError:
        e = cls(*items[0])
        e.items = list(items)
        return e


def _describe(err: dict) -> str:
    """One pydantic error as the second half of ``key: message``."""
    typ, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    shown = repr(got) if isinstance(got, str) else got
    if typ == "extra_forbidden":
        return "unknown key"
    if typ == "missing":
        return "required key not set"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer (got {shown})"
    if typ in ("float_type", "float_parsing"):
        return f"must be a number (got {shown})"
    if typ in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {shown})"
    if typ in ("string_type",):
        return f"must be a string (got {shown})"
    if typ in ("list_type",):
        return f"must be a list (got {shown})"
    if typ in ("dict_type",):
        return f"must be a mapping (got {shown})"
    if typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[typ]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound} (got {shown})"
    if typ in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '?')} (got {shown})"
    if typ == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        return msg
    return f"{err['msg']} (got {shown})"


def _problems_of(prefix: str, model: type[BaseModel], data: Any) -> list[str]:
    if not isinstance(data, dict):
        return [f"{prefix}: must be a mapping (got {data!r})"]
    try:
        model.model_validate(data)
    except ValidationError as e:
        lines: list[str] = []
        by_key: dict[str, list[str]] = {}
        for err in e.errors(include_url=False):
            exc = (err.get("ctx") or {}).get("error")
            if isinstance(exc, _KeyError):
                for k, msg in exc.items:
                    lines.append(f"{prefix}.{k}: {msg}")
                continue
            loc = [str(p) for p in err["loc"]]
            # a union reports one error per branch: keep the first per key (the most natural type)
            loc = [p for p in loc if not _is_type_tag(p)]
            key = ".".join([prefix] + loc)
            by_key.setdefault(key, []).append(_describe(err))
        for key, msgs in by_key.items():
            lines.append(f"{key}: {_merge(msgs)}")
        return lines
    return []


def _is_type_tag(part: str) -> bool:
    """Union branch tags in pydantic locations: 'int', 'float', 'str', 'bool', "list[int]", "literal['warn']"..."""
    return part in ("int", "float", "str", "bool", "none") or "[" in part or part.startswith(("function-", "literal"))


def _merge(msgs: list[str]) -> str:
    """Several branch errors of one union key -> one message."""
    if len(msgs) == 1:
        return msgs[0]
    kinds = []
    got = ""
    for m in msgs:
        head, _, rest = m.partition(" (got ")
        kinds.append(head.removeprefix("must be ").removeprefix("an ").removeprefix("a "))
        got = got or rest
    uniq = list(dict.fromkeys(kinds))
    return f"must be {' or '.join(uniq)}" + (f" (got {got}" if got else "")


def validate_groups(cfg: dict) -> list[str]:
    """Every problem in the modelled groups of a resolved config dict, one ``key: message`` line each."""
    lines: list[str] = []
    if "seed" in cfg:
        s = cfg["seed"]
        if s is not None and (isinstance(s, bool) or not isinstance(s, int)):
            lines.append(f"seed: must be an integer or null (got {s!r})")
    for group, model in GROUPS.items():
        if group not in cfg:
            lines.append(f"{group}: required config group missing")
            continue
        lines.extend(_problems_of(group, model, cfg[group]))
    return lines
