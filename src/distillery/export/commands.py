"""``distillery export``, ``distillery benchmark`` and ``distillery package`` (docs/export.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


class export_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        from distillery.export.quantize import CONFIGS
        from distillery.export.quantize_openvino import OV_CONFIGS

        p.add_argument("target", type=Path, nargs="?", help="a training run dir (or checkpoint dir)")
        p.add_argument("--out", type=Path, help="export dir to write")
        p.add_argument(
            "--verify",
            type=Path,
            metavar="EXPORT_DIR",
            help="re-check an existing export: file hashes + the parity gate against its source checkpoint",
        )
        p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
        p.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
        p.add_argument("--opset", type=int, help="ONNX opset (default 17 torchscript, 18 dynamo)")
        p.add_argument(
            "--int8-config",
            action="append",
            choices=sorted(CONFIGS) + sorted(OV_CONFIGS),
            metavar="NAME",
            help=f"INT8 configuration(s) to try, in order (default: each backend's ladder; ONNX Runtime: "
            f"{', '.join(CONFIGS)}; OpenVINO: {', '.join(OV_CONFIGS)})",
        )
        p.add_argument(
            "--backend",
            choices=["auto", "onnxruntime", "openvino"],
            default="auto",
            help="runtime of the shipped INT8 model; auto (default): every backend installed here passes the "
            "same gate, the fastest ships (all recorded in the manifest)",
        )
        p.add_argument("--fp32-atol", type=float, default=1e-3, help="max |FP32 ONNX - PyTorch| on the 0-10 scale")
        p.add_argument(
            "--int8-mae-tol", type=float, default=0.01, help="max relative MAE increase of INT8 over FP32 (0.01 = 1%%)"
        )
        p.add_argument("--int8-weighted-mae-tol", type=float, help="also gate the weighted-average MAE increase")
        p.add_argument(
            "--int8-min-spearman",
            type=float,
            default=0.99,
            help="min Spearman(INT8, FP32) of the weighted average (ranking fidelity); -1 to disable",
        )
        p.add_argument("--parity-n", type=int, default=64, help="held-out articles for the gate (test split, else val)")
        p.add_argument(
            "--parity-data", metavar="FILE", help="labelled JSONL for the gate instead of the run's test split"
        )
        p.add_argument(
            "--calibrate",
            choices=["auto", "refit", "none"],
            default="auto",
            help="auto: use the run's calibration.json, fitting it on val if missing; refit; none",
        )
        p.add_argument("--threads", type=int, help="CPU threads for torch, ONNX Runtime and OpenVINO")
        p.add_argument(
            "--attention",
            choices=["auto", "fused", "ort", "eager"],
            default="auto",
            help="attention in the ONNX graph: fused = one ai.onnx Attention op per layer (opset 23; "
            "encoders: plus a mask-free branch for unpadded batches); ort = ONNX Runtime's contrib "
            "Attention (encoders only; QAttention in INT8); eager = as exported; "
            "auto (default) = fused for encoders, eager for decoders",
        )
        p.add_argument(
            "--no-optimize",
            action="store_true",
            help="skip all graph rewriting (attention fusion; encoders: LayerNorm, GELU fusions)",
        )
        p.add_argument(
            "--gate-against",
            metavar="DEPLOYED",
            help="last step: `distillery gate` the new export against the deployed scorer (needs --holdout); "
            "writes <out>_gate/, exit 1 when it fails",
        )
        p.add_argument("--holdout", metavar="FILE", help="held-out labelled JSONL for --gate-against")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.errors import DistilleryError
        from distillery.export.parity import GateConfig
        from distillery.export.pipeline import GateFailed, export_run, verify_export

        gate = GateConfig(
            fp32_atol=args.fp32_atol,
            int8_mae_tol=args.int8_mae_tol,
            int8_weighted_mae_tol=args.int8_weighted_mae_tol,
            int8_min_spearman=None if args.int8_min_spearman < 0 else args.int8_min_spearman,
            n=args.parity_n,
        )
        try:
            if args.verify:
                verify_export(args.verify, threads=args.threads)
                print(f"{args.verify}: verified")
                return 0
            if not args.target or not args.out:
                raise DistilleryError("give a run dir and --out DIR (or --verify EXPORT_DIR)")
            if bool(args.gate_against) != bool(args.holdout):
                raise DistilleryError("--gate-against DEPLOYED and --holdout FILE go together")
            export_run(
                args.target,
                args.out,
                exporter=args.exporter,
                opset=args.opset,
                gate=gate,
                int8_configs=args.int8_config,
                parity_data=args.parity_data,
                calibrate=args.calibrate,
                threads=args.threads,
                force=args.force,
                optimize=not args.no_optimize,
                attention=args.attention,
                backend=args.backend,
            )
            if args.gate_against:  # the release gate, after the export is complete
                from distillery.release.commands import gate as release_gate

                gate_dir = Path(args.out).with_name(Path(args.out).name + "_gate")  # beside: the export stays as hashed
                return release_gate(str(args.out), args.gate_against, args.holdout, gate_dir)
        except GateFailed as e:
            print(f"PARITY GATE FAILED: {e}")
            return 3
        return 0


class benchmark_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("export_dir", type=Path)
        p.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048], help="context lengths in tokens")
        p.add_argument("--n", type=int, default=16, help="articles per length")
        p.add_argument("--batch-size", type=int, default=8)
        p.add_argument("--threads", type=int, default=2, help="CPU threads for every backend")
        p.add_argument(
            "--backends",
            nargs="+",
            default=["pytorch", "pytorch-lora", "onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-int8"],
            choices=["pytorch", "pytorch-lora", "onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-int8"],
            help="pytorch = LoRA merged (the baseline); pytorch-lora = adapters unmerged, as evaluate runs it; "
            "onnx-* = ONNX Runtime, openvino-* = OpenVINO (each where the export has it)",
        )
        p.add_argument("--data", metavar="FILE", help="articles to build inputs from (default: the parity split)")
        p.add_argument("--repeats", type=int, default=1, help="timed passes per backend and length (best is kept)")
        p.add_argument(
            "--compare",
            nargs="+",
            default=[],
            metavar="LABEL=FILE",
            help="also time other INT8 ONNX files of the same model (e.g. an earlier export's model.int8.onnx)",
        )
        p.add_argument(
            "--profile",
            action="store_true",
            help="also profile one pass per length (torch.profiler / ORT profiler): time per op, PyTorch vs INT8",
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.export.benchmark import run_benchmark

        run_benchmark(
            args.export_dir,
            lengths=args.lengths,
            n=args.n,
            batch_size=args.batch_size,
            threads=args.threads,
            backends=args.backends,
            data=args.data,
            repeats=args.repeats,
            profile=args.profile,
            compare=_pairs(args.compare),
        )
        return 0


def _pairs(items: list[str]) -> dict[str, Path]:
    from distillery.errors import DistilleryError

    out = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not Path(path).is_file():
            raise DistilleryError(f"--compare {item!r}: expected LABEL=FILE with an existing ONNX file")
        out[label] = Path(path)
    return out


class package_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("export_dir", type=Path)
        p.add_argument("--out", type=Path, default=Path("dist"), help="folder for the wheel (default dist/)")
        p.add_argument("--name", help="distribution name (default distillery-filter-<filter>-v<N>)")
        p.add_argument("--version", help="package version (default <filter version>.0.0)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.export.package import build_wheel

        wheel = build_wheel(args.export_dir, args.out, name=args.name, version=args.version)
        print(f"wheel: {wheel}")
        print(f"install: pip install {wheel}")
        return 0
