#!/usr/bin/env bash
# Static checks of CI (called by .ci/run before the test suite): ruff lint, ruff format,
# mypy. Run it locally the same way: ./scripts/ci_checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PATHS=(src tests benchmarks scripts)

echo "ci_checks: ruff check" >&2
.venv/bin/ruff check "${PATHS[@]}"

echo "ci_checks: ruff format --check" >&2
.venv/bin/ruff format --check "${PATHS[@]}"

echo "ci_checks: mypy src" >&2
# NOT FATAL YET: `mypy src` still reports errors in files that other branches of issue 11
# are rewriting (reports/, web/estimate.py, web/pages.py, storage/). The integrator makes
# it fatal once they are merged and mypy is clean: delete the `|| { ... }` below.
.venv/bin/mypy src || {
  echo "ci_checks: mypy reported errors (not fatal yet, see scripts/ci_checks.sh)" >&2
}
echo "ci_checks: done" >&2
