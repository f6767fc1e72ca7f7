"""Shared fixtures: borehole samples and the `ttfit` command-line binary.

The binary is located through the environment variable ``TTFIT_BIN`` (set by CI to the binary
`cargo` built); without it, ``target/{debug,release}/ttfit`` of the repository is tried. Tests
that need it are skipped, with the reason, when none exists.
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import ttfit

REPO = pathlib.Path(__file__).resolve().parents[2]

if pathlib.Path(ttfit.__file__).resolve().parent == REPO / "python" / "ttfit" and not any(
    (REPO / "python" / "ttfit").glob("_ttfit*")
):
    raise ImportError(
        "imported the source tree python/ttfit, which has no compiled extension: install the "
        "package (pip install ./python, or maturin develop) and run pytest from python/ with "
        "the `pytest` script rather than `python -m pytest`"
    )


def _find_binary():
    env = os.environ.get("TTFIT_BIN")
    if env:
        if not pathlib.Path(env).is_file():
            # CI names the binary it built: its absence is an error, not a reason to skip
            raise pytest.UsageError(f"TTFIT_BIN={env} does not exist")
        return pathlib.Path(env)
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "ttfit"
        if p.exists():
            return p
    return None


@pytest.fixture(scope="session")
def ttfit_bin():
    p = _find_binary()
    if p is None or not p.exists():
        pytest.skip(
            "the ttfit command-line binary is absent: run `cargo build --bin ttfit` in the "
            "repository root or set TTFIT_BIN to its path"
        )
    return p


@pytest.fixture(scope="session")
def run_cli(ttfit_bin):
    def run(*args, check=True):
        proc = subprocess.run(
            [str(ttfit_bin), *map(str, args)], capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ttfit {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def borehole():
    """(X, y) train and test sets of the borehole function (8 inputs)."""
    X, y, _ = ttfit.sample_function("borehole", 400, seed=1)
    Xt, yt, _ = ttfit.sample_function("borehole", 300, seed=2)
    return X, y, Xt, yt


def write_csv(path, X, y=None, names=None):
    """A CSV with header x1..xd (and y) whose values read back bitwise (17 significant digits)."""
    names = names or [f"x{k + 1}" for k in range(X.shape[1])]
    cols = [X] if y is None else [X, np.asarray(y)[:, None]]
    header = ",".join(names + ([] if y is None else ["y"]))
    np.savetxt(path, np.hstack(cols), delimiter=",", header=header, comments="", fmt="%.17g")


def read_column(path, column):
    """One column of a CSV written by the CLI, as float64."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, header.index(column)]
