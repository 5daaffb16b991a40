"""The Lightning module: trains the Regressor, evaluates per article at each epoch's end."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch

from distillery.evaluate.metrics import aggregate_views, regression_metrics
from distillery.filters.spec import FilterSpec
from distillery.models.regressor import Regressor

log = logging.getLogger("distillery.train")


class DistillModule(L.LightningModule):
    def __init__(self, model: Regressor, spec: FilterSpec, loss: torch.nn.Module, optim: Any, aggregate: str = "mean"):
        super().__init__()
        self.model, self.spec, self.loss_fn, self.optim, self.aggregate = model, spec, loss, optim, aggregate
        self.strict_loading = False  # checkpoints hold only trainable weights (see on_save_checkpoint)
        self._outputs: dict[str, list] = {}
        self.history: list[dict[str, float]] = []  # one row per validation epoch, for the loss curve
        self.last_eval: dict[str, dict] = {}  # stage -> {"pred", "true", "metrics"}
        self._train_loss = (0.0, 0)  # (sum, count) over the current training epoch

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        pred = self(batch["input_ids"], batch["attention_mask"])
        loss = self.loss_fn(pred, batch["labels"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(pred))
        self._train_loss = (self._train_loss[0] + loss.item() * len(pred), self._train_loss[1] + len(pred))
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_loss = (0.0, 0)

    def _eval_step(self, stage: str, batch: dict) -> None:
        pred = self(batch["input_ids"], batch["attention_mask"])
        loss = self.loss_fn(pred, batch["labels"])
        self.log(f"{stage}/loss", loss, on_epoch=True, batch_size=len(pred), sync_dist=True)  # all ranks' mean
        self._outputs.setdefault(stage, []).append(
            (pred.detach().float().cpu(), batch["labels"].cpu(), batch["article"].cpu())
        )

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_epoch_end(self, stage: str) -> None:
        rows = self._outputs.pop(stage, [])
        if not rows:
            return
        self.last_eval[stage] = self._article_eval(rows, self.spec)
        metrics = self.last_eval[stage]["metrics"]
        self.log_dict({f"{stage}/{k}": v for k, v in metrics.items() if k != "mae"})
        self.log(f"{stage}/mae", metrics["mae"], prog_bar=True)
        if stage == "val" and self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            total, count = self._train_loss
            self.history.append(
                {
                    "epoch": self.current_epoch,
                    "step": self.global_step,
                    "train_loss": total / count if count else float("nan"),
                    "val_loss": float(self.trainer.callback_metrics.get("val/loss", float("nan"))),
                    "val_mae": metrics["mae"],
                }
            )
            h = self.history[-1]
            if not self.trainer.is_global_zero:  # every rank holds the same (gathered) numbers: rank 0 says them
                return
            log.info(
                "epoch %d/%d: train loss %.4f | val loss %.4f | val MAE %.4f | val Spearman %.3f",
                h["epoch"] + 1,
                self.trainer.max_epochs or -1,
                h["train_loss"],
                h["val_loss"],
                h["val_mae"],
                metrics["spearman"],
            )

    def _article_eval(self, rows: list, spec: FilterSpec) -> dict:
        """Per-article predictions, labels and metrics from one stage's (pred, labels, article) view rows."""
        pred, true, article = (torch.cat(x) for x in zip(*rows))
        if self.trainer.world_size > 1:  # every rank evaluates on all articles (padding dupes average out)
            pred, true, article = (
                self.all_gather(x.to(self.device)).flatten(0, 1).cpu() for x in (pred, true, article)
            )
        ids, pred = aggregate_views(pred, article, self.aggregate)
        _, true = aggregate_views(true, article, "mean")  # every view carries its article's labels
        metrics = regression_metrics(pred.numpy(), true.numpy(), spec)
        return {"pred": pred.numpy(), "true": true.numpy(), "article": ids.numpy(), "metrics": metrics}

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self) -> Any:
        from transformers import get_scheduler

        lr = float(self.optim.lr)
        head_lr = self.optim.get("head_lr") if hasattr(self.optim, "get") else getattr(self.optim, "head_lr", None)
        head, body = [], []
        for name, p in self.named_parameters():
            if p.requires_grad:
                (head if ".head." in f".{name}" else body).append(p)
        groups = [{"params": body, "lr": lr}, {"params": head, "lr": float(head_lr) if head_lr else lr}]
        opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, weight_decay=float(self.optim.weight_decay))
        total = int(self.trainer.estimated_stepping_batches)
        sched = get_scheduler(
            str(self.optim.scheduler),
            opt,
            num_warmup_steps=int(total * float(self.optim.warmup_ratio)),
            num_training_steps=total,
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what training changes: adapters/unfrozen weights, the head and target stats."""
        keep = {n for n, p in self.named_parameters() if p.requires_grad}
        keep |= {n for n, _ in self.named_buffers() if n.startswith("model.target_")}
        return {k: v for k, v in self.state_dict().items() if k in keep}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = self.trainable_state_dict()
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("history", []))
