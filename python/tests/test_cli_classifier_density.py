"""Classifier and density model files shared with the command line: the same probabilities,
densities and draws through `ttfit predict` / `ttfit sample` as through Python, and the same
fit through `ttfit fit --loss` / `ttfit density` as through the estimators."""

import numpy as np

import ttfit
from conftest import read_column, write_csv
from test_classifier import quadrants, xor
from test_density import banana


def cores(tt):
    return np.concatenate([c.ravel() for c in tt.cores])


def test_binary_classifier_file_predicted_by_cli(tmp_path, run_cli):
    X, y = xor(300, 0)
    Xt, _ = xor(200, 1)
    est = ttfit.TTClassifier(rank=2, basis="legendre:4", max_iter=15).fit(X, y)
    est.model_.save(tmp_path / "model.json")
    write_csv(tmp_path / "test.csv", Xt)
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    np.testing.assert_array_equal(read_column(tmp_path / "pred.csv", "y_prob"),
                                  est.predict_proba(Xt)[:, 1])
    np.testing.assert_array_equal(read_column(tmp_path / "pred.csv", "y_label"), est.predict(Xt))


def test_softmax_classifier_file_predicted_by_cli(tmp_path, run_cli):
    X, y = quadrants(300, 2)
    Xt, _ = quadrants(200, 3)
    est = ttfit.TTClassifier(rank=2, basis="legendre:4", max_iter=10).fit(X, y)
    est.model_.save(tmp_path / "model.json")
    write_csv(tmp_path / "test.csv", Xt)
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    p = est.predict_proba(Xt)
    for c in range(3):
        np.testing.assert_array_equal(read_column(tmp_path / "pred.csv", f"y_prob{c}"), p[:, c])
    # the CLI writes class indices; classes_ maps them to the labels
    labels = read_column(tmp_path / "pred.csv", "y_label").astype(int)
    np.testing.assert_array_equal(est.classes_[labels], est.predict(Xt))


def test_classifier_and_cli_fit_identical(tmp_path, run_cli):
    """`ttfit fit --loss softmax` on the class indices and TTClassifier on string labels fit
    the same model (bitwise), and the CLI's file gives the same probabilities in Python."""
    X, y = quadrants(300, 4)
    est = ttfit.TTClassifier(rank=2, basis="legendre:4", max_iter=8, random_state=5).fit(X, y)
    codes = np.searchsorted(est.classes_, y)
    write_csv(tmp_path / "train.csv", X, codes)
    run_cli("fit", "--data", tmp_path / "train.csv", "--target", "y", "--loss", "softmax",
            "--rank", "2", "--basis", "legendre:4", "--max-iter", "8", "--validation", "0",
            "--seed", "5", "--quiet", "--out", tmp_path / "model.json")
    cli = ttfit.load_model(tmp_path / "model.json")
    assert cli.kind == "classifier" and cli.n_classes == 3
    np.testing.assert_array_equal(cores(cli.tt), cores(est.tt_))
    np.testing.assert_array_equal(cli.predict_proba(X)[0], est.predict_proba(X))


def test_density_file_predicted_and_sampled_by_cli(tmp_path, run_cli):
    X = banana(800, 5)
    est = ttfit.TTDensity(rank=2, basis="legendre:5", max_iter=10).fit(X)
    est.model_.save(tmp_path / "model.json")
    write_csv(tmp_path / "test.csv", X[:100])
    run_cli("predict", "--model", tmp_path / "model.json", "--data", tmp_path / "test.csv",
            "--out", tmp_path / "pred.csv")
    np.testing.assert_array_equal(read_column(tmp_path / "pred.csv", "log_density"),
                                  est.score_samples(X[:100]))
    np.testing.assert_array_equal(read_column(tmp_path / "pred.csv", "density"),
                                  est.model_.density(X[:100])[0])
    run_cli("sample", "--model", tmp_path / "model.json", "--n", "50", "--seed", "3",
            "--out", tmp_path / "s.csv")
    data = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(data, est.sample(50, random_state=3))


def test_density_and_cli_fit_identical(tmp_path, run_cli):
    """`ttfit density` and TTDensity with the same settings (validation split included) fit
    the same model bitwise."""
    X = banana(600, 6)
    write_csv(tmp_path / "s.csv", X)
    run_cli("density", "--data", tmp_path / "s.csv", "--rank", "2", "--basis", "legendre:5",
            "--max-iter", "12", "--seed", "4", "--quiet", "--out", tmp_path / "model.json")
    est = ttfit.TTDensity(rank=2, basis="legendre:5", max_iter=12, random_state=4).fit(X)
    cli = ttfit.load_model(tmp_path / "model.json")
    assert cli.kind == "density"
    np.testing.assert_array_equal(cores(cli.tt), cores(est.tt_))
    np.testing.assert_array_equal(cli.density(X)[1], est.score_samples(X))
    assert cli.input_names == ["x1", "x2"] == est.model_.input_names
