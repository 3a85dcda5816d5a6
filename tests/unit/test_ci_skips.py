"""Under CI=true an unexpected skip fails the run (tests/conftest.py); elsewhere a skip stays a skip."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n"
INI = "[pytest]\nmarkers =\n    allow_skip: an expected skip\n"
TESTS = """
import pytest

def test_passes():
    pass

def test_skips():
    pytest.skip("no data here")

@pytest.fixture
def data():
    pytest.skip("fixture found nothing")

def test_skips_in_a_fixture(data):
    pass

@pytest.mark.skipif(True, reason="not this platform")
def test_skipif():
    pass

@pytest.mark.allow_skip
@pytest.mark.skipif(True, reason="Linux only")
def test_allowed():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfails():
    assert False
"""


@pytest.fixture()
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


@pytest.mark.parametrize("value", [None, "false", "0"])
def test_outside_ci_a_skip_is_a_skip(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                     value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = suite.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_under_ci_an_unexpected_skip_fails_and_says_why(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                        value: str) -> None:
    monkeypatch.setenv("CI", value)
    result = suite.runpytest_inprocess("-p", "no:cacheprovider", "-rA")
    # a skip in the test body fails it; one in a fixture or a skipif mark is an error in its setup
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    for reason in ("no data here", "fixture found nothing", "not this platform"):
        assert f"unexpected skip under CI=true ({reason}); make the test run here, or mark it " \
               "@pytest.mark.allow_skip" in out
    result.stdout.fnmatch_lines(["SKIPPED * Linux only"])


def test_under_ci_a_module_skipped_at_collection_fails_the_run(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_optional='import pytest\npytest.importorskip("no_such_module_xyz")\n\n'
                                      "def test_x():\n    pass\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*unexpected skip of test_optional.py under CI=true*no_such_module_xyz*"])
    monkeypatch.delenv("CI")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(skipped=1)
