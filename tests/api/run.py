#!/usr/bin/env python3
"""Run the dealmap black-box API tests.

    python3 tests/api/run.py                 # everything
    python3 tests/api/run.py test_30 dup     # tests whose id contains any of the words
    python3 tests/api/run.py -v -x test_10   # verbose, stop at the first failure

The last line printed is exactly `N passed, N failed` (N = test methods; a test
that could not run because its class or module failed to set up counts as
failed, and so does a failure while tearing a server down). A test skipped on
purpose (unittest.SkipTest: e.g. a SQLite-only test on PostgreSQL, or mounting a
file system without root) is neither: it is listed as `skipped: <test>: <reason>`
above the summary. The exit status is non-zero when anything failed.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = set()
        self.teardown_errors = 0
        self.started = {}
        self.skipped_ids = {}

    def startTest(self, test):
        self.started[test.id()] = time.time()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.add(test.id())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_ids[test.id()] = reason

    def addError(self, test, err):
        super().addError(test, err)
        # errors in setUpClass/tearDownClass/setUpModule come as _ErrorHolder
        if not hasattr(test, "_testMethodName") and "tearDown" in str(test):
            self.teardown_errors += 1


def main(argv):
    verbosity = 1
    failfast = False
    words = []
    for a in argv:
        if a in ("-v", "--verbose"):
            verbosity = 2
        elif a in ("-x", "--failfast"):
            failfast = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            words.append(a)
    loader = unittest.TestLoader()
    everything = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(flatten(everything))
    # failed imports show up as tests of unittest.loader._FailedTest: keep them
    if words:
        tests = [t for t in tests if any(w in t.id() for w in words)]
    suite = unittest.TestSuite(tests)
    total = suite.countTestCases()
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity,
                                     resultclass=CountingResult, failfast=failfast)
    t0 = time.time()
    result = runner.run(suite)
    passed = len(result.passed)
    # a class skipped in setUpClass reports one skip for the class: count its methods
    skipped = 0
    for t in tests:
        tid = t.id()
        cls_id = tid.rsplit(".", 1)[0]
        reason = result.skipped_ids.get(tid)
        if reason is None:
            reason = next((r for k, r in result.skipped_ids.items() if "(%s)" % cls_id in k), None)
        if reason is not None and tid not in result.passed:
            skipped += 1
            print("skipped: %s: %s" % (tid, reason))
    failed = total - passed - skipped + result.teardown_errors
    sys.stderr.flush()
    print("ran %d test methods in %.1fs (%d skipped)" % (total, time.time() - t0, skipped))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
