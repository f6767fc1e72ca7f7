"""Model files shared with the command line, and agreement with the Rust CLI bit for bit."""

import numpy as np

import ttfit
from conftest import read_column, write_csv

HYPER = dict(rank=3, basis="legendre:5", optimizer="ngd-nesterov", max_iter=12)
# TTRegressor holds out no rows unless validation_fraction is set; `ttfit fit` holds out 20 % by
# default, so the CLI side says --validation 0 for the same computation
CLI_HYPER = ["--rank", "3", "--basis", "legendre:5", "--optimizer", "ngd-nesterov", "--max-iter", "12",
             "--validation", "0"]


def test_python_model_file_predicted_by_cli(tmp_path, borehole, run_cli):
    X, y, Xt, _ = borehole
    est = ttfit.TTRegressor(**HYPER).fit(X, y)
    est.model_.save(tmp_path / "model.json")
    write_csv(tmp_path / "test.csv", Xt)
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    cli = read_column(tmp_path / "pred.csv", "y_pred")
    np.testing.assert_array_equal(cli, est.predict(Xt))


def test_cli_model_file_loaded_in_python(tmp_path, borehole, run_cli):
    X, y, Xt, _ = borehole
    write_csv(tmp_path / "train.csv", X, y)
    write_csv(tmp_path / "test.csv", Xt)
    run_cli("fit", "--data", tmp_path / "train.csv", "--target", "y", *CLI_HYPER, "--quiet",
            "--out", tmp_path / "model.json")
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    model = ttfit.load_model(tmp_path / "model.json")
    assert model.input_names == [f"x{k}" for k in range(1, 9)]
    assert model.ranks == [1] + [3] * 7 + [1]
    values, outside = model.predict(Xt)
    np.testing.assert_array_equal(values, read_column(tmp_path / "pred.csv", "y_pred"))
    # the bytes of a loaded file are a model file again, equal to the one the CLI wrote
    again = ttfit.Model.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.predict(Xt)[0], values)
    assert model.to_bytes() == (tmp_path / "model.json").read_bytes()


def test_regressor_and_cli_fit_identical(tmp_path, borehole, run_cli):
    """The same data and settings through TTRegressor and `ttfit fit` give the same model."""
    X, y, Xt, _ = borehole
    write_csv(tmp_path / "train.csv", X, y)
    write_csv(tmp_path / "test.csv", Xt)
    run_cli("fit", "--data", tmp_path / "train.csv", "--target", "y", *CLI_HYPER, "--seed", "7",
            "--quiet", "--out", tmp_path / "model.json")
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    est = ttfit.TTRegressor(**HYPER, random_state=7).fit(X, y)
    np.testing.assert_array_equal(est.predict(Xt), read_column(tmp_path / "pred.csv", "y_pred"))
    cli_info = ttfit.load_model(tmp_path / "model.json")
    np.testing.assert_array_equal(
        np.concatenate([c.ravel() for c in cli_info.tt.cores]),
        np.concatenate([c.ravel() for c in est.tt_.cores]),
    )


def test_cli_sample_matches_python_sample(tmp_path, run_cli):
    run_cli("sample", "--function", "borehole", "--n", "50", "--seed", "3",
            "--out", tmp_path / "s.csv")
    X, y, names = ttfit.sample_function("borehole", 50, seed=3)
    with open(tmp_path / "s.csv") as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert header == names + ["y"]
    np.testing.assert_array_equal(data[:, :-1], X)
    np.testing.assert_array_equal(data[:, -1], y)
