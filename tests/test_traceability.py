import json

pytest_plugins = ["pytester"]

SAMPLE = '''
import pytest

@pytest.mark.req("R1.1")
@pytest.mark.req("R1.2")
def test_ok():
    pass

@pytest.mark.req("R1.1")
def test_bad():
    assert False

@pytest.mark.req("R2.1")
@pytest.mark.skip(reason="later")
def test_later():
    pass

def test_untagged():
    pass
'''


def _run(pytester, *args):
    pytester.makepyfile(test_sample=SAMPLE)
    out = pytester.path / "trace.json"
    result = pytester.runpytest("-p", "tests.plugins.traceability", "-p", "no:cacheprovider",
                                f"--traceability-file={out}", *args)
    return result, json.loads(out.read_text())


def test_matrix_counts_outcomes_per_requirement(pytester):
    result, matrix = _run(pytester)
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    assert matrix == {"R1.1": {"passed": 1, "failed": 1, "skipped": 0},
                      "R1.2": {"passed": 1, "failed": 0, "skipped": 0},
                      "R2.1": {"passed": 0, "failed": 0, "skipped": 1}}


def test_req_option_selects_only_tagged_tests(pytester):
    result, matrix = _run(pytester, "--req", "R1.2")
    result.assert_outcomes(passed=1, deselected=3)
    assert matrix == {"R1.1": {"passed": 1, "failed": 0, "skipped": 0},
                      "R1.2": {"passed": 1, "failed": 0, "skipped": 0}}


def test_malformed_marker_is_refused(pytester):
    pytester.makepyfile(test_bad='import pytest\n@pytest.mark.req("R1.1, R1.2")\ndef test_x():\n    pass\n')
    result = pytester.runpytest("-p", "tests.plugins.traceability",
                                f"--traceability-file={pytester.path / 't.json'}")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*req markers take one requirement ID each*"])
