from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import slices

# Under CI=true a skipped test fails the run, unless it is marked @pytest.mark.allow_skip (a skip
# that is expected there, e.g. a platform the runner is not): a test that silently stops running
# (a missing fixture, dependency or data set) must not pass CI as "skipped". A module skipped at
# collection (a module-level importorskip) cannot carry the marker and fails collection.
ALLOW_SKIP = "allow_skip"


def _skips_fail() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _reason(longrepr: object) -> str:
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and not hasattr(report, "wasxfail") and _skips_fail()
            and item.get_closest_marker(ALLOW_SKIP) is None):
        report.outcome = "failed"
        report.longrepr = (f"unexpected skip under CI=true ({_reason(report.longrepr)}); "
                           f"make the test run here, or mark it @pytest.mark.{ALLOW_SKIP} if the skip is expected")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _skips_fail():
        report.outcome = "failed"
        report.longrepr = f"unexpected skip of {collector.nodeid} under CI=true ({_reason(report.longrepr)})"


@pytest.fixture(scope="session")
def scifact_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SciFact-shaped fixture set built for this session (tests/fixture_data.py): never ../shared/data."""
    return slices.scifact_like(tmp_path_factory)


@pytest.fixture(scope="session")
def dbpedia_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DBpedia-shaped fixture set (graded 0/1/2 judgments, ~12 per query) built for this session."""
    return slices.dbpedia_like(tmp_path_factory)
