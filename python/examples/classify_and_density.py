"""A TT classifier on XOR data and a TT density of a banana-shaped sample, with a linear
baseline and the exact normalization, printed as tables.

    python python/examples/classify_and_density.py

Classifier: XOR labels (sign of x1 x2) in d = 2 and, as the issue's synthetic problem, in
d = 10 with the label depending on x1 x2 only; test accuracy and log-loss of TTClassifier
against scikit-learn's LogisticRegression. Density: samples x1 ~ Beta(2, 2), x2 | x1 ~
N(x1^2 + 0.1, 0.1^2) on [0, 1]^2; held-out mean log-likelihood, the integral of the fitted
density by tensor Gauss-Legendre quadrature, and the moments of 20000 exact draws against
the density's own.
"""

import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import ttfit


def xor(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, d))
    return X, np.where(X[:, 0] * X[:, 1] > 0, "same sign", "opposite")


def banana(n, seed):
    rng = np.random.default_rng(seed)
    out = np.empty((0, 2))
    while len(out) < n:
        a = rng.beta(2, 2, n)
        b = a**2 + 0.1 + 0.1 * rng.standard_normal(n)
        out = np.vstack([out, np.c_[a, b][(b > 0) & (b < 1)]])
    return out[:n]


def main():
    print("classification (test accuracy / log-loss, 2000 test rows)")
    print(f"{'problem':<12}{'model':<22}{'accuracy':>10}{'log-loss':>10}{'seconds':>9}")
    for d, n in ((2, 400), (10, 2000)):
        X, y = xor(n, d, 0)
        Xt, yt = xor(2000, d, 1)
        for name, est in (
            ("LogisticRegression", LogisticRegression()),
            ("TTClassifier", ttfit.TTClassifier(rank=2, basis="legendre:3", max_iter=40)),
        ):
            t0 = time.perf_counter()
            est.fit(X, y)
            dt = time.perf_counter() - t0
            p = est.predict_proba(Xt)
            print(f"{f'XOR d={d}':<12}{name:<22}{est.score(Xt, yt):>10.4f}"
                  f"{log_loss(yt, p, labels=est.classes_):>10.4f}{dt:>9.2f}")

    print("\ndensity of a banana sample on [0, 1]^2 (3000 samples, rank 3, legendre:6)")
    box = [(0.0, 1.0), (0.0, 1.0)]
    X, Xt = banana(3000, 0), banana(2000, 1)
    est = ttfit.TTDensity(rank=3, basis="legendre:6", max_iter=40, domain=box).fit(X)
    z, w = np.polynomial.legendre.leggauss(20)
    g = 0.5 * (z + 1)
    nodes = np.array(np.meshgrid(g, g, indexing="ij")).reshape(2, -1).T
    weights = np.outer(0.5 * w, 0.5 * w).ravel()
    p = weights * np.exp(est.score_samples(nodes))
    mean = p @ nodes
    S = est.sample(20000, random_state=0)
    print(f"held-out mean log-likelihood   {est.score(Xt):.4f} (uniform density: 0)")
    print(f"integral of p (20x20 Gauss)    {p.sum():.15f}")
    print(f"mean of p                      {mean.round(4)}")
    print(f"mean of 20000 draws            {S.mean(0).round(4)}")
    print(f"mean of the data               {X.mean(0).round(4)}")


if __name__ == "__main__":
    main()
