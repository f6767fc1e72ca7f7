# %% [markdown]
# # ttfit from Python: the borehole function
#
# A notebook-style script (cells marked `# %%`; run it with `python`, or open it as a notebook
# in VS Code / Jupytext). It fits a tensor-train surrogate of the borehole function, compares
# the optimizers from the same start point, and plots the convergence if matplotlib is
# installed (the figure goes to `borehole_convergence.png`, or the path given as argument).

# %%
import sys
import time

import numpy as np

import ttfit

X, y, names = ttfit.sample_function("borehole", 2000, seed=1)
X_test, y_test, _ = ttfit.sample_function("borehole", 2000, seed=2)
print("inputs:", names)
print("X", X.shape, "y", y.shape)

# %% [markdown]
# ## One fit with the scikit-learn interface

# %%
t0 = time.perf_counter()
model = ttfit.TTRegressor(rank=4, basis="legendre:6", max_iter=40).fit(X, y)
print(f"fitted in {time.perf_counter() - t0:.2f} s: {model.n_iter_} iterations, stop: {model.stop_reason_}")
print("ranks:", model.ranks_)
print(f"R^2 on fresh samples: {model.score(X_test, y_test):.8f}")
rel = np.linalg.norm(model.predict(X_test) - y_test) / np.linalg.norm(y_test)
print(f"relative L2 test error: {rel:.2e}")

# %% [markdown]
# ## Compare the optimizers (same data, same start, same seed)

# %%
optimizers = ["als", "rgd", "rcg", "gd", "ngd", "ngd-hb", "ngd-nesterov"]
runs = ttfit.compare(
    X, y, optimizers, X_test=X_test, y_test=y_test,
    rank=4, basis="legendre:6", max_iter=60, time_limit=3.0,
)
print(f"{'optimizer':<14}{'iterations':>11}{'seconds':>9}{'test error':>12}  stop")
for name, h in runs.items():
    if "error" in h:
        print(f"{name:<14} failed: {h['error']}")
        continue
    print(f"{name:<14}{h['iteration'][-1]:>11}{h['seconds'][-1]:>9.2f}{h['test_error'][-1]:>12.2e}  {h['stop']}")

# %% [markdown]
# ## Plot relative test error against optimizer time (needs matplotlib)

# %%
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, h in runs.items():
        if "error" not in h:
            ax.semilogy(h["seconds"], h["test_error"], label=name)
    ax.set_xlabel("optimizer seconds")
    ax.set_ylabel("relative test error")
    ax.set_title("borehole, rank 4, Legendre 6")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    out = sys.argv[1] if len(sys.argv) > 1 else "borehole_convergence.png"
    fig.savefig(out, dpi=120, bbox_inches="tight")
    print("wrote", out)
