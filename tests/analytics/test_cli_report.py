"""``python -m analytics report``: bad input is refused with exit code 1 and a clear message."""

import pytest

from analytics.cli import main

LOG = "Client,OrderedAt,Total\n" + "".join(
    f"{c:05d},2011-{m:02d}-03,{c * 10 + m}\n" for c in range(1, 21) for m in range(1, 7)
)
MAPPING = "customer_id=Client,invoice_date=OrderedAt,amount=Total"


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(LOG)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2011-01-01"], "Give both --start and --end, or neither"),
        (["--end", "2011-01-01"], "Give both --start and --end, or neither"),
        (
            ["--start", "2011-03-01", "--end", "2011-01-31"],
            "--end (2011-01-31) is before --start (2011-03-01)",
        ),
        (
            ["--start", "1/3/2011", "--end", "2011-04-01"],
            "--start must be a date written YYYY-MM-DD",
        ),
        (
            ["--start", "2012-01-01", "--end", "2012-02-01"],
            "--start: 01 Jan 2012 – 01 Feb 2012 has no data: this log runs from 03 Jan 2011 to "
            "03 Jun 2011. Pick dates inside it.",
        ),
    ],
)
def test_bad_period(log_file, tmp_path, capsys, args, message):
    out = tmp_path / "r.html"
    code = main(
        ["report", "--input", str(log_file), "--columns", MAPPING, *args, "--output", str(out)]
    )
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("name", ["report.csv", "report.docx", "report"])
def test_output_must_be_html_or_pdf(tmp_path, capsys, name):
    assert main(["report", "--output", str(tmp_path / name)]) == 1
    assert "--output must end in .html or .htm or .pdf" in capsys.readouterr().err


def test_pdf_without_chromium_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SEGMENTA_CHROMIUM", raising=False)
    assert main(["report", "--output", str(tmp_path / "r.pdf")]) == 1
    err = capsys.readouterr().err
    assert "A PDF report needs Chromium, and none was found" in err
    assert "[0/5]" not in err  # refused before loading or computing anything


def test_output_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "weekly.html").mkdir()
    assert main(["report", "--output", str(tmp_path / "weekly.html")]) == 1
    assert "is a folder; give a file name inside it" in capsys.readouterr().err


def test_small_log_gets_a_report_that_says_what_it_cannot_show(log_file, tmp_path, capsys):
    """20 customers, no products: no predictions and no rules, and the report says why."""
    out = tmp_path / "small.html"
    code = main(["report", "--input", str(log_file), "--columns", MAPPING, "--output", str(out)])
    assert code == 0
    text = out.read_text()
    assert "No churn and CLV predictions: Only 20 customers bought before 2011-06-04" in text
    assert "No basket rules: This log has no product column" in text
    assert "No segment migration: No customer bought anything before 2011-01-03" in text
    printed = capsys.readouterr().out
    assert "Revenue: £13,020, up 2.8% on the 76 days before the period's last 76." in printed
    assert "churn risk" not in printed  # no sentence about numbers that do not exist
