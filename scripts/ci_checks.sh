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
.venv/bin/mypy src
echo "ci_checks: done" >&2
