#!/usr/bin/env bash
# The two commands of cnn-course. Each sets everything up first (a virtualenv in
# .venv with the course installed), so they work on a fresh clone:
#
#   ./course.sh demo   build the exercises, autograde the sample class, print the gradebook
#   ./course.sh test   run the whole test suite, one pytest-xdist worker per core
#                      (-m "not slow": the fast tier; --update: rewrite the snapshots)
#
# `./course.sh book` builds the course as a website in build/book (open build/book/index.html),
# and `./course.sh setup` only sets up, with nbgrader's whole UI in JupyterLab;
# `./course.sh setup --student` turns its instructor parts off (grader/student_setup.py).
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
    if [ ! -f "$stamp" ] || ! cat pyproject.toml constraints.txt | cmp -s - "$stamp"; then
        echo "==> installing cnn-course and its dependencies into .venv (the first time takes a few minutes)"
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
        cat pyproject.toml constraints.txt > "$stamp"
    fi
    system_tools
    # nbgrader calls `alembic` and `jupyter` from PATH.
    export PATH="$PWD/.venv/bin:$PATH"
    export MPLBACKEND=Agg
}

# Grading runs student code in a bubblewrap sandbox (grader/isolation.py). As root we
# install it; otherwise we say how, and grading warns until it is there. Where the
# PostgreSQL gradebook tests are required (CNN_COURSE_REQUIRE_POSTGRES=1: .ci/run), the
# server's binaries too: tests/test_postgres.py starts a throwaway server of its own. Where
# the browser test of `cnn-course report` is required (CNN_COURSE_REQUIRE_BROWSER=1:
# .ci/run), Chromium: tests/test_report.py drives it with Playwright, which downloads none.
system_tools() {
    local missing=()
    command -v bwrap >/dev/null || missing+=(bubblewrap)
    if [ "${CNN_COURSE_REQUIRE_POSTGRES:-}" = 1 ] && ! command -v initdb >/dev/null &&
        ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        missing+=(postgresql)
    fi
    if [ "${CNN_COURSE_REQUIRE_BROWSER:-}" = 1 ] && ! command -v chromium >/dev/null; then
        missing+=(chromium)
    fi
    [ ${#missing[@]} = 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing ${missing[*]}"
        # no service started by the package: the tests start, and stop, their own server
        local policy=/usr/sbin/policy-rc.d no_policy= rc=0
        if [ ! -e $policy ]; then
            no_policy=1 && printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy
        fi
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
        [ -z "$no_policy" ] || rm -f $policy
        return $rc
    elif [ "${missing[0]}" = bubblewrap ]; then
        echo "==> note: bubblewrap is not installed, so grading runs student code unisolated." >&2
        echo "    Install it with: sudo apt-get install bubblewrap" >&2
    fi
}

case "${1:-}" in
    demo)
        setup
        shift
        exec cnn-course demo "$@"
        ;;
    book)
        setup
        shift
        # book/conf.py; lectures execute once, then come from build/jupyter_cache
        python -m sphinx -b html -W --keep-going -q -c book . build/book "$@"
        echo "==> the book: build/book/index.html"
        ;;
    test)
        setup
        shift
        # tests/conftest.py decides which tests share a worker
        exec python -m pytest -n auto "$@"
        ;;
    setup)
        case "${2:-}" in
            --student) who=--student ;;
            "") who=--instructor ;;
            *) echo "usage: ./course.sh setup [--student]" >&2 && exit 2 ;;
        esac
        setup
        .venv/bin/python -m grader.student_setup "$who"
        ;;
    *)
        echo "usage: ./course.sh demo | test [pytest args] | book [sphinx args] | setup [--student]" >&2
        exit 2
        ;;
esac
