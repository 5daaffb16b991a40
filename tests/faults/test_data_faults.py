"""Issue 16, data / checkpoint / filter faults, each through the real CLI: one ``error:`` line that
names the file (and line, column or key), a non-zero exit, no traceback, nothing partial on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from faults.conftest import assert_one_line, run_cli

WEIGHTS = {"adapter": "checkpoint/adapter/adapter_model.safetensors", "head": "checkpoint/head.safetensors"}


# ---- row 1: a checkpoint's safetensors file cut short ------------------------------------------
@pytest.fixture(scope="module")
def damaged_runs(tiny_run: Path, tmp_path_factory) -> dict[str, tuple[Path, Path, int, int]]:
    """Copies of the tiny run with one weights file truncated to half: name -> (run, file, size, full size)."""
    out = {}
    for name, rel in WEIGHTS.items():
        run = tmp_path_factory.mktemp(f"damaged_{name}") / "run"
        shutil.copytree(tiny_run, run)
        f = run / rel
        full = f.stat().st_size
        with open(f, "r+b") as fh:
            fh.truncate(full // 2)
        out[name] = (run, f, full // 2, full)
    return out


@pytest.mark.parametrize("which", sorted(WEIGHTS))
def test_truncated_weights_evaluate(damaged_runs, which, tmp_path):
    run, f, size, full = damaged_runs[which]
    res = run_cli(["evaluate", run, "--no-wandb", "--out", tmp_path / "eval"], cwd=tmp_path)
    line = assert_one_line(res, str(f), "not a complete safetensors file", f"{size} bytes", f"header says {full}")
    assert line.startswith(f"error: {f}:")
    assert "FutureWarning" not in res.out  # the library's noise no longer comes first
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("which", sorted(WEIGHTS))
def test_truncated_weights_export_leaves_nothing_partial(damaged_runs, which, tmp_path):
    """``adapter``: a fresh --out is not created. ``head``: with --force over a previous export,
    that export is left exactly as it was (the new one is built aside and never swapped in)."""
    run, f, size, full = damaged_runs[which]
    out = tmp_path / "exports" / "uplifting_v6"
    previous = {"manifest.json": '{"format": 1}\n', "model.int8.onnx": "old model"}
    if which == "head":
        out.mkdir(parents=True)
        for name, text in previous.items():
            (out / name).write_text(text)
    args = ["export", run, "--out", out, "--threads", "1", *(["--force"] if which == "head" else [])]
    res = run_cli(args, cwd=tmp_path)
    assert_one_line(res, str(f), "not a complete safetensors file", f"{size} bytes", f"header says {full}")
    assert "FutureWarning" not in res.out
    if which == "head":
        assert {p.name: p.read_text() for p in out.iterdir()} == previous
    else:
        assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == ([out.name] if which == "head" else [])  # no temp folders


def test_failed_gate_never_replaces_a_passing_export(tiny_run, tiny_export, tmp_path):
    """``export --force`` over a working export whose new attempt fails the parity gate: the working
    export stays byte-identical, the attempt (its parity.json) is kept in ``<out>.rejected``."""
    import shutil

    out = tmp_path / "deployed"
    shutil.copytree(tiny_export, out)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = run_cli(["export", tiny_run, "--out", out, "--force", "--threads", "1", "--fp32-atol", "1e-30"], cwd=tmp_path)
    assert res.rc == 3 and "Traceback" not in res.out, str(res)
    assert "PARITY GATE FAILED" in res.out and f"{out} was left as it was" in res.out
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert (tmp_path / "deployed.rejected" / "parity.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("deployed")) == [
        "deployed",
        "deployed.rejected",
    ]


# ---- rows 2, 3, 4, 6: bad lines in JSONL data ----------------------------------------------------
N_ARTICLES = 24


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """A valid labelled JSONL file (uplifting/v6 synthetic corpus) and its lines (bytes, with newline)."""
    from distillery.data.records import write_jsonl
    from distillery.data.synthetic import generate_corpus
    from distillery.filters import load_filter

    f = write_jsonl(
        tmp_path_factory.mktemp("corpus") / "good.jsonl",
        generate_corpus(load_filter("uplifting/v6"), n=N_ARTICLES, seed=0),
    )
    return f, f.read_bytes().splitlines(keepends=True)


def _with_bad_byte(lines: list[bytes], dest: Path, line: int = 8, at: int = 300) -> tuple[Path, int]:
    """``lines`` with byte 0xff inserted in line ``line`` (1-based) after ``at`` characters (all ASCII
    up to there in the synthetic corpus); returns the file and the expected 1-based column."""
    out = list(lines)
    raw = out[line - 1]
    assert raw[:at].isascii()
    out[line - 1] = raw[:at] + b"\xff" + raw[at:]
    dest.write_bytes(b"".join(out))
    return dest, at + 1


def _imported(res) -> set[str]:
    """Top-level modules a run imported, from PYTHONPROFILEIMPORTTIME's lines on stderr."""
    return {
        ln.rsplit("|", 1)[1].strip().split(".")[0] for ln in res.stderr.splitlines() if ln.startswith("import time:")
    }


def test_non_utf8_line_in_train_data_named_fast_before_torch(corpus, tmp_path):
    """Rows 2, 3, 6: file:line and column, the hint that works for train, in seconds and before
    torch/lightning are imported."""
    import time

    f, col = _with_bad_byte(corpus[1], tmp_path / "train.jsonl")
    t0 = time.monotonic()
    res = run_cli(
        ["train", "data=jsonl", f"data.path={f}", "logger=none", f"paths.output_dir={tmp_path / 'out'}"],
        cwd=tmp_path,
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    took = time.monotonic() - t0
    imported = _imported(res)
    res.stderr = "\n".join(ln for ln in res.stderr.splitlines() if not ln.startswith("import time:"))
    line = assert_one_line(res, f"{f}:8: not UTF-8 (byte 0xff at column {col})", "data.skip_invalid=true", rc=2)
    assert "--skip-invalid" not in line
    assert took < 6, f"the bad line took {took:.1f}s to report"  # measured ~1.5-3 s; heavy imports alone are 6-14 s
    assert "hydra" in imported and not imported & {"torch", "lightning", "transformers"}, sorted(imported)


def test_non_utf8_line_skipped_and_reported_like_any_bad_line(corpus, tmp_path, uplifting):
    """Row 2 with data.skip_invalid=true: train's data loading drops exactly that line and reports it
    (in process: the code `distillery train` runs, without paying for a training)."""
    from omegaconf import OmegaConf

    from distillery.data.datamodule import load_splits

    f, col = _with_bad_byte(corpus[1], tmp_path / "train.jsonl")
    cfg = OmegaConf.create({"source": "jsonl", "path": str(f), "split": [0.8, 0.1, 0.1], "skip_invalid": True})
    splits, skipped, _ = load_splits(cfg, uplifting, tmp_path / "cache")
    assert skipped == [f"{f}:8: not UTF-8 (byte 0xff at column {col})"]
    bad_id = json.loads(corpus[1][7])["id"]
    ids = [r["id"] for recs in splits.values() for r in recs]
    assert len(ids) == N_ARTICLES - 1 and bad_id not in ids


def test_score_input_uses_the_same_reader(corpus, tmp_path, oracle_server, oracle_env):
    """Row 2, score --input: the same one line (with score's own flag as the hint); with
    --skip-invalid the line is dropped, counted in summary.json, and every other article is labelled."""
    srv = oracle_server()
    n = 6
    f, col = _with_bad_byte(corpus[1][:n], tmp_path / "articles.jsonl", line=4)
    args = ["score", "--filter", "uplifting/v6", "--input", f, "--base-url", srv.base_url, "--model", "test-oracle"]
    args += ["--price-in", "1", "--price-out", "2", "--timeout", "5", "--quiet", "--out"]
    res = run_cli([*args, tmp_path / "out1"], cwd=tmp_path)
    assert_one_line(res, f"{f}:4: not UTF-8 (byte 0xff at column {col})", "--skip-invalid", rc=2)
    assert srv.paid == 0 and not (tmp_path / "out1" / "labelled.jsonl").exists()

    res = run_cli([*args, tmp_path / "out2", "--skip-invalid"], cwd=tmp_path)
    assert res.rc == 0 and "Traceback" not in res.out, str(res)
    summary = json.loads((tmp_path / "out2" / "summary.json").read_text())
    assert summary["skipped_input_lines"] == 1 and summary["articles"] == n - 1
    labelled = [json.loads(x)["id"] for x in (tmp_path / "out2" / "labelled.jsonl").read_text().splitlines()]
    assert sorted(labelled) == sorted(json.loads(x)["id"] for i, x in enumerate(corpus[1][:n]) if i != 3)


def test_train_option_hint_and_usage_name_distillery_train(tmp_path):
    """Row 3: `--skip-invalid` on train names what works there; Hydra's own argparse errors say
    `distillery train`, never `__main__.py`."""
    res = run_cli(["train", "--skip-invalid"], cwd=tmp_path)
    assert_one_line(res, "--skip-invalid", "data.skip_invalid=true", "distillery train", rc=2)
    assert "__main__" not in res.out and "usage:" not in res.out
    res = run_cli(["train", "--cfg", "nonsense"], cwd=tmp_path)
    assert res.rc == 2 and "__main__" not in res.out and "Traceback" not in res.out, str(res)
    assert res.stderr.startswith("usage: distillery train") and "distillery train: error: argument --cfg" in res.stderr
    res = run_cli(["train", "data.path"], cwd=tmp_path)
    assert_one_line(res, "cannot parse override 'data.path'", "key=value", rc=2)


@pytest.mark.parametrize("cut", ["in_string", "after_comma"])
def test_cut_short_line_reports_the_real_column(corpus, tmp_path, cut):
    """Row 4: a line of JSON cut short ~7,000 characters in: the column is where it breaks (not 1,
    not where the unterminated string opened)."""
    rec = json.loads(corpus[1][0])
    rec["content"] = "A long report on the new clinic. " * 300  # ~9,900 characters
    line = json.dumps(rec, ensure_ascii=False)
    if cut == "in_string":
        end = 6970  # inside "content"
        opened = line.index('"content": "') + len('"content": ') + 1
        needles = [f"line 3 column {end + 1}", "ends inside a string", f"opened at column {opened}"]
    else:
        content = json.dumps(rec["content"], ensure_ascii=False)
        end = line.index(content) + len(content) + 1  # just after the comma that follows "content"
        assert line[end - 1] == "," and end > 6000
        needles = [f"line 3 column {end + 1}", "Expecting property name"]
    lines = [corpus[1][0], corpus[1][1], line[:end].encode() + b"\n", corpus[1][2]]
    f = tmp_path / "cut.jsonl"
    f.write_bytes(b"".join(lines))
    res = run_cli(["prepare", "--filter", "uplifting/v6", f, "--out", tmp_path / "data"], cwd=tmp_path)
    err = assert_one_line(res, f"{f}:3: broken JSON", *needles, "--skip-invalid", rc=2)
    assert "column 1:" not in err and not (tmp_path / "data").exists()


# ---- row 5: one broken filter in --filters-dir ----------------------------------------------------
def test_one_broken_filter_does_not_hide_the_others(tmp_path):
    """Every good filter is listed (the shipped ones and the folder's good one); the broken one is one
    ``error:`` line naming its file, line and key. Exit status 1 (a CHOICE, like validate-filter's
    FAIL): a listing with a filter that cannot be used is not a clean result for scripts."""
    from distillery.filters.registry import list_filters
    from distillery.paths import filters_dir

    shipped = list_filters()
    good = tmp_path / "filters" / "mine" / "v1"
    shutil.copytree(filters_dir() / "uplifting" / "v6", good)
    spec = good / "filter.yaml"
    spec.write_text(spec.read_text().replace("name: uplifting", "name: mine", 1).replace("version: 6", "version: 1", 1))
    bad = tmp_path / "filters" / "broken" / "v1" / "filter.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("name: broken\nversion: 1\ndimensions: 3\n")
    res = run_cli(["filters", "--filters-dir", tmp_path / "filters"], cwd=tmp_path)
    assert_one_line(res, "broken/v1", f"{bad}:3: dimensions", rc=1)
    listed = [ln.split()[0] for ln in res.stdout.splitlines()]
    assert listed == ["mine/v1", *shipped], res.stdout
    assert "error:" not in res.stdout  # problems go to stderr, the listing stays parseable
