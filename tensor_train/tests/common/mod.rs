//! Shared helpers of the integration tests: deterministic proptest configuration, random
//! shapes and tensors, dense reference computations (small sizes only), Gauss–Legendre
//! quadrature with orthonormal Legendre features.
#![allow(dead_code)]

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use tensor_train::tangent::{TangentSpace, TangentVector};
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};

/// Deterministic proptest configuration: ChaCha with a fixed seed, no persistence files.
/// `TT_PROPTEST_CASES=<n>` overrides the number of cases (for occasional long runs).
pub fn config(cases: u32, seed: u64) -> ProptestConfig {
    let cases = std::env::var("TT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

/// A random TT shape: mode sizes, admissible internal ranks and a seed for the entries.
#[derive(Debug, Clone)]
pub struct Shape {
    pub sizes: Vec<usize>,
    pub ranks: Vec<usize>,
    pub seed: u64,
}

impl Shape {
    pub fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.seed)
    }
    pub fn d(&self) -> usize {
        self.sizes.len()
    }
    pub fn total(&self) -> usize {
        self.sizes.iter().product()
    }
    /// `r_0..r_d`.
    pub fn full_ranks(&self) -> Vec<usize> {
        let mut r = vec![1];
        r.extend_from_slice(&self.ranks);
        r.push(1);
        r
    }
}

/// `d` in `dmin..=dmax`, `n_k` in `2..=nmax`, requested ranks in `1..=rmax` clamped to
/// admissible ones; mode sizes are lowered (largest first) until `prod n_k <= cap`.
pub fn shapes(
    dmin: usize,
    dmax: usize,
    nmax: usize,
    rmax: usize,
    cap: usize,
) -> impl Strategy<Value = Shape> {
    (dmin..=dmax)
        .prop_flat_map(move |d| {
            (
                proptest::collection::vec(2..=nmax, d),
                proptest::collection::vec(1..=rmax, d.saturating_sub(1)),
                any::<u64>(),
            )
        })
        .prop_map(move |(mut sizes, req, seed)| {
            while sizes.iter().product::<usize>() > cap {
                let i = (0..sizes.len()).max_by_key(|&i| sizes[i]).unwrap();
                if sizes[i] <= 2 {
                    break;
                }
                sizes[i] -= 1;
            }
            let ranks = clamp_ranks(&sizes, &req);
            Shape { sizes, ranks, seed }
        })
}

/// The standard shapes of the suites: `d` in 2..=6, `n` in 2..=5, ranks up to 4, `prod n <= 5^6`.
pub fn std_shapes() -> impl Strategy<Value = Shape> {
    shapes(2, 6, 5, 4, 15625)
}

pub fn random_tt(sizes: &[usize], ranks: &[usize], rng: &mut StdRng) -> TensorTrain {
    TensorTrain::random(sizes, ranks, CoreDistribution::ScaledNormal, rng).unwrap()
}

pub fn gaussian(shape: (usize, usize), rng: &mut StdRng) -> Array2<f64> {
    Array2::from_shape_simple_fn(shape, || StandardNormal.sample(rng))
}

pub fn gaussian_vec(len: usize, rng: &mut StdRng) -> Array1<f64> {
    Array1::from_shape_simple_fn(len, || StandardNormal.sample(rng))
}

/// Q factor (orthonormal columns) of a random Gaussian `m x n` matrix, `m >= n`.
pub fn random_orthonormal(m: usize, n: usize, rng: &mut StdRng) -> Array2<f64> {
    let a = gaussian((m, n), rng);
    tensor_train::linalg::qr_thin(a.view()).unwrap().0
}

/// A TT whose unfoldings have well-conditioned singular values: cores `k < d` are random
/// left-orthogonal cores times `diag(s)` with `s` in `[0.6, 1]`, the last core is random, and
/// the result is retried (deterministically) until `min_k sigma_min(X^<k>) >= floor ||X||`.
pub fn well_conditioned_tt(
    sizes: &[usize],
    ranks: &[usize],
    floor: f64,
    rng: &mut StdRng,
) -> TensorTrain {
    let d = sizes.len();
    let mut full = vec![1];
    full.extend_from_slice(ranks);
    full.push(1);
    let mut best: Option<(f64, TensorTrain)> = None;
    for _ in 0..50 {
        let mut cores = Vec::with_capacity(d);
        for k in 0..d {
            let (a, n, b) = (full[k], sizes[k], full[k + 1]);
            let core = if k + 1 < d {
                let mut q = random_orthonormal(a * n, b, rng);
                for j in 0..b {
                    let s = 1.0 - 0.4 * (j as f64) / (b.max(2) as f64 - 1.0);
                    q.column_mut(j).mapv_inplace(|x| x * s);
                }
                q.into_shape_with_order((a, n, b)).unwrap()
            } else {
                let g = gaussian((a * n, b), rng);
                g.into_shape_with_order((a, n, b)).unwrap()
            };
            cores.push(core);
        }
        let mut tt = TensorTrain::from_cores(cores).unwrap();
        let nrm = tt.norm().unwrap();
        tt.scale(1.0 / nrm);
        let smin = tt
            .min_singular_values()
            .unwrap()
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        if smin >= floor {
            return tt;
        }
        if best.as_ref().is_none_or(|(s, _)| smin > *s) {
            best = Some((smin, tt));
        }
    }
    best.unwrap().1
}

/// Dense tensor, flattened row-major.
pub fn dense(tt: &TensorTrain) -> Array1<f64> {
    Array1::from_iter(tt.to_dense().unwrap().iter().cloned())
}

pub fn norm(a: ArrayView1<'_, f64>) -> f64 {
    a.dot(&a).sqrt()
}

/// `||a - b|| / ||b||` (absolute if `b` is 0).
pub fn rel_err(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    let diff = &a - &b;
    let nb = norm(b);
    let nd = norm(diff.view());
    if nb > 0.0 {
        nd / nb
    } else {
        nd
    }
}

pub fn max_abs(a: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Random Gaussian feature matrices `N x n_k`.
pub fn random_features(sizes: &[usize], n_samples: usize, rng: &mut StdRng) -> Vec<Array2<f64>> {
    sizes
        .iter()
        .map(|&n| gaussian((n_samples, n), rng))
        .collect()
}

pub fn views(f: &[Array2<f64>]) -> Vec<ArrayView2<'_, f64>> {
    f.iter().map(|a| a.view()).collect()
}

/// `phi_a(x_a) (x) ... (x) phi_{b-1}(x_{b-1})` for sample `i` (first factor slowest).
pub fn kron_row(features: &[Array2<f64>], i: usize, modes: std::ops::Range<usize>) -> Array1<f64> {
    let mut v = Array1::ones(1);
    for k in modes {
        let f = features[k].row(i);
        let mut next = Array1::zeros(v.len() * f.len());
        for (p, &vp) in v.iter().enumerate() {
            for (j, &fj) in f.iter().enumerate() {
                next[p * f.len() + j] = vp * fj;
            }
        }
        v = next;
    }
    v
}

/// `<X, Phi(x^i)>` for every sample, from the dense tensor.
pub fn dense_values(x: &Array1<f64>, features: &[Array2<f64>]) -> Array1<f64> {
    let d = features.len();
    let n = features[0].nrows();
    Array1::from_shape_fn(n, |i| kron_row(features, i, 0..d).dot(x))
}

/// `sum_i w_i Phi(x^i)` densely.
pub fn dense_rank_one_sum(features: &[Array2<f64>], w: ArrayView1<'_, f64>) -> Array1<f64> {
    let d = features.len();
    let total: usize = features.iter().map(|f| f.ncols()).product();
    let mut z = Array1::zeros(total);
    for (i, &wi) in w.iter().enumerate() {
        z.scaled_add(wi, &kron_row(features, i, 0..d));
    }
    z
}

/// The `k`-th unfolding `(n_1..n_k) x (n_{k+1}..n_d)` of a flattened dense tensor.
pub fn unfolding(x: &Array1<f64>, sizes: &[usize], k: usize) -> Array2<f64> {
    let rows: usize = sizes[..k].iter().product();
    let cols: usize = sizes[k..].iter().product();
    x.clone().into_shape_with_order((rows, cols)).unwrap()
}

/// Singular values of a dense matrix.
pub fn singular_values(a: &Array2<f64>) -> Vec<f64> {
    tensor_train::linalg::svd_thin(a.view()).unwrap().s.to_vec()
}

/// `sqrt(sum_{i >= r} s_i^2)`.
pub fn tail(s: &[f64], r: usize) -> f64 {
    s.iter().skip(r).map(|x| x * x).sum::<f64>().sqrt()
}

/// Product of cores `0..k` as a `(n_1..n_k) x r_k` matrix, by explicit slice products.
pub fn left_partial(tt: &TensorTrain, k: usize) -> Array2<f64> {
    let mut acc = Array2::ones((1, 1));
    for c in &tt.cores()[..k] {
        let (_, n, b) = c.dim();
        let mut next = Array2::zeros((acc.nrows() * n, b));
        for p in 0..acc.nrows() {
            for j in 0..n {
                let slice = c.index_axis(ndarray::Axis(1), j);
                next.row_mut(p * n + j).assign(&acc.row(p).dot(&slice));
            }
        }
        acc = next;
    }
    acc
}

/// Product of cores `k..d` as an `r_k x (n_{k+1}..n_d)` matrix (0-based core `k` first).
pub fn right_partial(tt: &TensorTrain, k: usize) -> Array2<f64> {
    let d = tt.order();
    let mut acc = Array2::ones((1, 1));
    for c in tt.cores()[k..d].iter().rev() {
        let (a, n, _) = c.dim();
        let q = acc.ncols();
        let mut next = Array2::zeros((a, n * q));
        for j in 0..n {
            let slice = c.index_axis(ndarray::Axis(1), j);
            let prod = slice.dot(&acc); // a x q
            next.slice_mut(ndarray::s![.., j * q..(j + 1) * q])
                .assign(&prod);
        }
        acc = next;
    }
    acc
}

/// The dense tangent tensor `sum_k U_1..U_{k-1} dG_k V_{k+1}..V_d` term by term.
pub fn dense_tangent(ts: &TangentSpace, xi: &TangentVector) -> Array1<f64> {
    let d = ts.order();
    let u = ts.point().cores();
    let v = ts.point_right().cores();
    let mut sum: Option<Array1<f64>> = None;
    for k in 0..d {
        let mut cores: Vec<Array3<f64>> = Vec::with_capacity(d);
        cores.extend(u[..k].iter().cloned());
        cores.push(xi.blocks[k].clone());
        cores.extend(v[k + 1..].iter().cloned());
        let term = dense(&TensorTrain::from_cores(cores).unwrap());
        sum = Some(match sum {
            None => term,
            Some(s) => s + term,
        });
    }
    sum.unwrap()
}

/// Random tangent vector with the gauge conditions, from random coordinates.
pub fn random_tangent(ts: &TangentSpace, rng: &mut StdRng) -> (Array1<f64>, TangentVector) {
    let c = gaussian_vec(ts.dim(), rng);
    let xi = ts.from_coords(c.view()).unwrap();
    (c, xi)
}

pub fn tangent_diff_norm(a: &TangentVector, b: &TangentVector) -> f64 {
    let mut d = a.clone();
    d.axpy(-1.0, b);
    d.norm()
}

/// `D = sum_k r_{k-1} n_k r_k - sum_{k<d} r_k^2`.
pub fn manifold_dim(sizes: &[usize], ranks: &[usize]) -> usize {
    let mut full = vec![1];
    full.extend_from_slice(ranks);
    full.push(1);
    let params: usize = (0..sizes.len())
        .map(|k| full[k] * sizes[k] * full[k + 1])
        .sum();
    let gauge: usize = ranks.iter().map(|r| r * r).sum();
    params - gauge
}

/// Legendre polynomial `P_n(x)` and its derivative.
pub fn legendre_with_derivative(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if n == 0 {
        return (1.0, 0.0);
    }
    for j in 1..n {
        let p2 = ((2 * j + 1) as f64 * x * p1 - j as f64 * p0) / (j + 1) as f64;
        p0 = p1;
        p1 = p2;
    }
    let dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

/// Gauss–Legendre nodes and weights for the probability measure `dx/2` on `[-1, 1]`
/// (Newton on `P_q`).
pub fn gauss_legendre(q: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(q);
    let mut weights = Vec::with_capacity(q);
    for i in 0..q {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre_with_derivative(q, x);
            let dx = p / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        let (_, dp) = legendre_with_derivative(q, x);
        nodes.push(x);
        weights.push(1.0 / ((1.0 - x * x) * dp * dp)); // 2 / (...) for dx, halved for dx/2
    }
    (nodes, weights)
}

/// Orthonormal Legendre features `sqrt(2j+1) P_j(x)`, `j < n`, in `L^2(dx/2)`.
pub fn legendre_features(x: f64, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let (mut p0, mut p1) = (1.0, x);
    for j in 0..n {
        let pj = if j == 0 {
            1.0
        } else if j == 1 {
            x
        } else {
            let p2 = ((2 * j - 1) as f64 * x * p1 - (j - 1) as f64 * p0) / j as f64;
            p0 = p1;
            p1 = p2;
            p2
        };
        out.push(((2 * j + 1) as f64).sqrt() * pj);
    }
    out
}

/// Tensor Gauss–Legendre grid with `q_k` nodes per mode: feature matrices (orthonormal
/// Legendre, `n_k` features) and product weights (summing to 1).
pub fn tensor_quadrature(
    sizes: &[usize],
    nodes_per_mode: &[usize],
) -> (Vec<Array2<f64>>, Array1<f64>) {
    let d = sizes.len();
    let rules: Vec<(Vec<f64>, Vec<f64>)> =
        nodes_per_mode.iter().map(|&q| gauss_legendre(q)).collect();
    let total: usize = nodes_per_mode.iter().product();
    let mut feats: Vec<Array2<f64>> = sizes.iter().map(|&n| Array2::zeros((total, n))).collect();
    let mut w = Array1::zeros(total);
    for i in 0..total {
        let mut rem = i;
        let mut idx = vec![0; d];
        for k in (0..d).rev() {
            idx[k] = rem % nodes_per_mode[k];
            rem /= nodes_per_mode[k];
        }
        let mut wi = 1.0;
        for k in 0..d {
            let (x, wk) = (rules[k].0[idx[k]], rules[k].1[idx[k]]);
            wi *= wk;
            let f = legendre_features(x, sizes[k]);
            for (j, v) in f.into_iter().enumerate() {
                feats[k][[i, j]] = v;
            }
        }
        w[i] = wi;
    }
    (feats, w)
}

/// Least-squares slope of `log y` against `log x`.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let mx = lx.iter().sum::<f64>() / n;
    let my = ly.iter().sum::<f64>() / n;
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Whether every bond has the largest rank the mode sizes allow (the manifold is then an open
/// subset of the whole space and the retraction is exact).
pub fn all_ranks_maximal(sizes: &[usize], ranks: &[usize]) -> bool {
    (0..ranks.len()).all(|k| {
        let left: usize = sizes[..=k].iter().product();
        let right: usize = sizes[k + 1..].iter().product();
        ranks[k] == left.min(right)
    })
}
