#!/usr/bin/env bash
# The two commands of cnn-course. Each sets everything up first (a virtualenv in
# .venv with the course installed), so they work on a fresh clone:
#
#   ./course.sh demo   build the exercises, autograde the sample class, print the gradebook
#   ./course.sh test   run the whole test suite, one pytest-xdist worker per core
#                      (-m "not slow": the fast tier; --update: rewrite the snapshots)
#
# Set PYTHON to choose the interpreter that creates .venv (default: python3).
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    local py="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating .venv with $($py --version)"
        "$py" -m venv .venv
    fi
    # Reinstall only when the dependencies changed.
    local stamp=.venv/.cnn-course-installed
    if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
        echo "==> installing cnn-course and its dependencies into .venv (the first time takes a few minutes)"
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e '.[dev]'
        cp pyproject.toml "$stamp"
    fi
    # nbgrader calls `alembic` and `jupyter` from PATH.
    export PATH="$PWD/.venv/bin:$PATH"
    export MPLBACKEND=Agg
}

case "${1:-}" in
    demo)
        setup
        shift
        exec cnn-course demo "$@"
        ;;
    test)
        setup
        shift
        # tests/conftest.py decides which tests share a worker
        exec python -m pytest -n auto "$@"
        ;;
    setup)
        setup
        ;;
    *)
        echo "usage: ./course.sh demo | test [pytest args] | setup" >&2
        exit 2
        ;;
esac
