from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from careassist.cli import main

pytestmark = pytest.mark.unit


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(tmp_path / "platform"))
    return tmp_path / "platform"


def test_help_starts_without_importing_the_heavy_libraries() -> None:
    code = (
        "import sys; from careassist.cli import build_parser; build_parser();"
        "heavy = [m for m in ('pandas', 'great_expectations', 'mlflow', 'airflow', 'feast', 'boto3') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_init_ingest_and_show_the_current_dataset(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    assert (root / "raw" / "seed_corpus.csv").exists()
    capsys.readouterr()
    assert main(["ingest"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["validation"]["success"] is True
    assert result["current"] == result["dataset_version"]
    assert result["rows_per_label"]["crisis"] >= 300
    assert main(["datasets"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["dataset_version"] == result["dataset_version"]


def test_a_failed_ingest_exits_non_zero_with_the_reason(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "broken.csv").write_text("message\nhello\n")
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert "broken.csv: missing required column(s) text, label" in err
    assert "Traceback" not in err


def test_generate_writes_a_parquet_file_of_the_asked_size(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    assert main(["generate", "--rows", "500", "--seed", "3"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "generated_500_seed3.parquet"
    assert len(pd.read_parquet(path)) == 500


def test_corpus_stats_and_export(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "stats"]) == 0
    total = capsys.readouterr().out.strip().splitlines()[-1]
    assert total.startswith("total ") and int(total.split()[1]) >= 1650
    assert main(["corpus", "export", "--to", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "seed_corpus.csv").exists()


def test_check_on_the_embedded_profile_needs_no_services(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "no services needed" in capsys.readouterr().out


@pytest.mark.model
def test_train_then_evaluate_writes_a_model_and_a_report(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0 and main(["ingest"]) == 0
    capsys.readouterr()
    assert main(["train"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert Path(trained["model"]).is_file() and trained["chosen"] in trained["candidates"]
    assert main(["evaluate", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "crisis recall" in out
    report = json.loads((root / "reports" / "evaluation" / "report.json").read_text())
    assert report["rows"] > 0 and report["crisis"]["recall"] is not None
    assert (root / "reports" / "evaluation" / "confusion_matrix.png").stat().st_size > 10_000


def test_evaluate_without_a_model_file_says_which_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0 and main(["ingest"]) == 0
    assert main(["evaluate", "--model", str(root / "missing.skops")]) == 1
    assert "missing.skops: no such model file" in capsys.readouterr().err
