#!/usr/bin/env bash
# The Python step of CI (called by .ci/run after the Rust tests; runs alone too, from anywhere):
# fmt and clippy of the extension crate, a fresh virtual environment with the pinned tools of
# requirements-ci.txt, the wheel built by maturin in the dev profile (opt-level 2, no LTO: the
# release profile's thin LTO of faer costs minutes on 2 cores), installed with pip, pytest on the
# installed wheel, and the side-by-side CLI/Python example.
#
# Environment: CARGO_TARGET_DIR (default: the repository's target/, shared with the Rust steps),
# PYTHON (default python3), TTFIT_BIN (default: the `ttfit` binary `cargo test` builds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
STEP_START=$SECONDS

echo "== python: cargo fmt --check and clippy -D warnings of python/ (its own workspace)"
# python/ is excluded from the root workspace (PyO3 must not link into `cargo test`); it builds
# in the root target directory so that unchanged crates are shared between the steps.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
(cd python && cargo fmt -- --check)
(cd python && cargo clippy --all-targets -- -D warnings)

echo; echo "== python: fresh venv, maturin wheel (dev profile: opt-level 2, no LTO), pip install, pytest"
PYTHON="${PYTHON:-python3}"
PYWORK="$(mktemp -d)"
trap 'rm -rf "$PYWORK"' EXIT
if ! "$PYTHON" -m venv "$PYWORK/venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    rm -rf "$PYWORK/venv"
    "$PYTHON" -m venv "$PYWORK/venv"
fi
VENV="$PYWORK/venv"
"$VENV/bin/python" --version
"$VENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-ci.txt
# The CLI binary the round-trip tests run: the one `cargo test` built (faer backend). After the
# lapack run above this rebuilds nothing, it only names the faer build's executable.
if [ -z "${TTFIT_BIN:-}" ]; then
TTFIT_BIN="$(cargo test --workspace --no-run --message-format=json 2>/dev/null |
    "$VENV/bin/python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if (m.get("reason") == "compiler-artifact" and t.get("name") == "ttfit"
            and "bin" in t.get("kind", []) and not m["profile"]["test"]):
        print(m["executable"])  # the CLI itself, not the unit-test harness of main.rs')"
fi
export TTFIT_BIN
echo "TTFIT_BIN=$TTFIT_BIN"
[ -x "$TTFIT_BIN" ] || { echo "error: no ttfit binary from cargo" >&2; exit 1; }
PY_START=$SECONDS
(cd python && "$VENV/bin/maturin" build --profile dev --out "$PYWORK/wheels")
echo "wheel built in $((SECONDS - PY_START)) s: $(cd "$PYWORK/wheels" && ls)"
# one abi3 wheel for every CPython >= 3.9
ls "$PYWORK"/wheels/ttfit-*-cp39-abi3-*.whl >/dev/null
"$VENV/bin/pip" install -q --disable-pip-version-check "$PYWORK"/wheels/ttfit-*.whl
# Run from python/ with the pytest script (not `python -m pytest`, which would put python/ and
# its source copy of the package on sys.path): the installed wheel is what is tested.
# pytest exits 5 when it collects no test; `set -e` makes that, like any failure, fail CI.
(cd python && "$VENV/bin/pytest" -p no:cacheprovider -rsx tests)
(cd python && "$VENV/bin/python" examples/side_by_side.py --bin "$TTFIT_BIN")
echo "python step: wheel, install and tests $((SECONDS - PY_START)) s; whole step $((SECONDS - STEP_START)) s"

