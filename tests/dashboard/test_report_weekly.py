"""``storelens report weekly`` as a user runs it (the installed entry point, a real DuckDB
file, kaleido on Debian's Chromium, fpdf2), the PDF read back with poppler: its text and
a rendered page. Bad input: one line, exit 2, nothing written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from storelens.dashboard.auth import hash_password
from storelens.data.report import week_label

from tests.data.insights_db import DAYS, GAP_DAY, build_insights_db

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))
TODAY = datetime.now(UTC).date()
# The week holding store a's camera gap (it may run past today: those days have no data).
WEEK = week_label(TODAY - timedelta(days=GAP_DAY))
MONDAY = date.fromisocalendar(*(int(p) for p in WEEK.split("-W")), 1)
DAYS_WITH_DATA = sum(
    TODAY - timedelta(days=DAYS) <= MONDAY + timedelta(days=i) < TODAY for i in range(7)
)
SHOTS = Path("/tmp/shots/E")

pytestmark = pytest.mark.slow


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORELENS, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_insights_db(tmp_path_factory.mktemp("report") / "r.duckdb", TODAY)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    return path


def test_weekly_pdf_has_the_story_and_renders(db: Path, chromium: str, tmp_path: Path) -> None:
    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing: apt-get install poppler-utils (setup.sh --test)")
    out = tmp_path / "north.pdf"
    done = run(
        "report", "weekly", "--db", str(db), "--region", "north", "--week", WEEK, "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert not out.with_name("north.pdf.part").exists()
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"StoreLens weekly report — north, {WEEK}" in text
    for heading in (
        "Headline KPIs, change vs the week before",
        "€ impact",
        "Data health",
        "Leading and lagging stores",
    ):
        assert heading in text
    # €120 a day lost in store a's slow hours (tests/data/insights_db.py).
    assert f"Sales lost to checkout queues: €{120 * DAYS_WITH_DATA:,}" in text
    assert "Queue target: an hour is slow when its mean checkout wait is over 120 s" in text
    assert "Store A: no data" in text and "(2 h)" in text  # the camera gap, by the store's name
    pages = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(out), str(pages)], check=True)
    rendered = sorted(tmp_path.glob("page*.png"))
    assert len(rendered) >= 2  # text and charts
    from PIL import Image

    with Image.open(rendered[-1]) as img:  # the charts page: kaleido drew something
        colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    for i, png in enumerate(rendered):
        shutil.copy(png, SHOTS / f"report-page{i + 1}.png")


def test_weekly_html_embeds_the_charts(db: Path, chromium: str, tmp_path: Path) -> None:
    out = tmp_path / "south.html"
    done = run(
        "report", "weekly", "--db", str(db), "--region", "south", "--week", WEEK, "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.count("src='data:image/png;base64,") == 3
    assert "south" in page and "€ impact" in page


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--region", "west", "--week", WEEK], "--region 'west': no such region"),
        (["--region", "north", "--week", "2026-49"], "expected an ISO week like 2026-W49"),
        (["--region", "north", "--week", "2020-W10"], "no data for region north"),
        (["--region", "north", "--week", WEEK, "--as", "sam"], "'north' is outside"),
        (["--region", "north", "--week", WEEK, "--as", "nobody"], "--as 'nobody': no such user"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(
    db: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'[users.sam]\nrole = "regional_lead"\nregion = "south"\n'
        f'password_hash = "{hash_password("sam-pw")}"\n'
    )
    out = tmp_path / "r.pdf"
    done = run(
        "report", "weekly", "--db", str(db), "--out", str(out), "--secrets", str(secrets), *args
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert not out.exists()


def test_output_must_be_pdf_or_html(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    done = run(
        "report", "weekly", "--db", str(db), "--region", "north", "--week", WEEK, "--out", str(out)
    )
    assert done.returncode == 2 and "must end in .pdf or .html" in done.stderr
    assert not out.exists()
