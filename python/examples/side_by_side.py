"""The same borehole data through ttfit.TTRegressor and through the ttfit command line.

    python python/examples/side_by_side.py [--bin target/debug/ttfit]

Samples the borehole function with `ttfit sample`, fits it with `ttfit fit` and predicts with
`ttfit predict`; fits the same CSV rows with TTRegressor (same basis, rank, optimizer,
iterations and seed) and predicts in Python; prints both side by side and checks that the
predictions are identical (bit for bit) and that the two model files hold the same cores.
Exits 1 if they differ. The binary: --bin, else $TTFIT_BIN, else target/{debug,release}/ttfit.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

import ttfit

REPO = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = dict(rank=4, basis="legendre:6", optimizer="ngd-nesterov", max_iter=25, random_state=1)


def find_binary(arg):
    for p in [arg, os.environ.get("TTFIT_BIN"), REPO / "target/debug/ttfit", REPO / "target/release/ttfit"]:
        if p and pathlib.Path(p).exists():
            return pathlib.Path(p)
    sys.exit("no ttfit binary: run `cargo build --bin ttfit` or pass --bin PATH")


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", help="path of the ttfit binary")
    args = ap.parse_args()
    cli = find_binary(args.bin)

    def run(*a):
        subprocess.run([str(cli), *map(str, a)], check=True, capture_output=True, text=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        run("sample", "--function", "borehole", "--n", 1500, "--seed", 1, "--out", tmp / "train.csv")
        run("sample", "--function", "borehole", "--n", 1000, "--seed", 2, "--out", tmp / "test.csv")
        s = SETTINGS
        run("fit", "--data", tmp / "train.csv", "--target", "y", "--rank", s["rank"],
            "--basis", s["basis"], "--optimizer", s["optimizer"], "--max-iter", s["max_iter"],
            "--seed", s["random_state"], "--validation", 0,  # TTRegressor's default: no hold-out
            "--quiet", "--out", tmp / "cli_model.json")
        run("predict", "--model", tmp / "cli_model.json", "--data", tmp / "test.csv",
            "--out", tmp / "cli_pred.csv")

        header, train = read_csv(tmp / "train.csv")
        _, test = read_csv(tmp / "test.csv")
        X, y = train[:, :-1], train[:, -1]
        Xt, yt = test[:, :-1], test[:, -1]
        est = ttfit.TTRegressor(**SETTINGS).fit(X, y)
        py_pred = est.predict(Xt)
        ph, pred = read_csv(tmp / "cli_pred.csv")
        cli_pred = pred[:, ph.index("y_pred")]
        cli_model = ttfit.load_model(tmp / "cli_model.json")

    print(f"borehole: {len(y)} training rows, {len(yt)} test rows, inputs {header[:-1]}")
    print(f"settings: {SETTINGS}\n")
    print(f"{'row':>4} {'y':>14} {'TTRegressor':>22} {'ttfit predict':>22}")
    for i in range(8):
        print(f"{i:>4} {yt[i]:>14.6f} {py_pred[i]:>22.15g} {cli_pred[i]:>22.15g}")
    same = np.array_equal(py_pred, cli_pred)
    cores_same = all(
        np.array_equal(a, b) for a, b in zip(est.tt_.cores, cli_model.tt.cores)
    )
    rel = np.linalg.norm(py_pred - yt) / np.linalg.norm(yt)
    print(f"\nrelative test error {rel:.3e}; R^2 {est.score(Xt, yt):.8f}")
    print(f"identical predictions on all {len(yt)} rows: {same}; identical TT cores: {cores_same}")
    print(f"max |difference| {np.max(np.abs(py_pred - cli_pred)):.1e}")
    sys.exit(0 if same and cores_same else 1)


if __name__ == "__main__":
    main()
