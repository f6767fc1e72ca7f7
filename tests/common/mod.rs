//! Problems shared by `tests/baselines.rs` and `examples/baselines.rs` (included there with
//! `#[path]`): a random functional TT to recover and the borehole function, both on orthonormal
//! Legendre features `sqrt(2j+1) P_j(x)` on `[-1, 1]` (uniform measure `dx/2`) from
//! [`ttfit::basis`], the borehole formula from [`ttfit::functions`].

#![allow(dead_code)]

use ndarray::{Array2, Array3, ArrayView1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use ttfit::basis::Basis;
use ttfit::functions::TestFunction;
use ttfit::samples::SampleSet;
use ttfit::tensor_train::interfaces;
use ttfit::tensor_train::linalg::Par;
use ttfit::tensor_train::TensorTrain;

/// Orthonormal Legendre features `sqrt(2j+1) P_j(x)`, `j < n`, of the points `x` (`len x n`).
pub fn legendre(x: &[f64], n: usize) -> Array2<f64> {
    Basis::legendre(n).eval(ArrayView1::from(x))
}

/// `count x d` points uniform on `[-1, 1]^d`.
pub fn uniform_points(rng: &mut StdRng, count: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((count, d), || rng.random_range(-1.0..1.0))
}

/// Feature matrices of the columns of `x` (points on `[-1, 1]^d`).
pub fn features(x: &Array2<f64>, n: usize) -> Vec<Array2<f64>> {
    x.columns()
        .into_iter()
        .map(|c| legendre(&c.to_vec(), n))
        .collect()
}

/// The recovery problem: a random functional TT with `d = 6` variables, `n = 5` Legendre
/// features and ranks 3. Its cores have identity-like degree-0 slices (so the function is
/// `O(1)` everywhere) plus Gaussian noise whose standard deviation halves with every degree,
/// `0.5^(j+1)` for slice `j`: a smooth function with a moderate dynamic range, exactly of
/// rank 3. Returns the truth, `n_train` noise-free training samples and `n_test` test samples.
pub struct Recovery {
    /// The ground truth.
    pub truth: TensorTrain,
    /// Training samples.
    pub train: SampleSet,
    /// Test samples.
    pub test: SampleSet,
}

/// Internal ranks of the recovery problem.
pub const RECOVERY_RANKS: [usize; 5] = [3; 5];

/// Build the recovery problem (deterministic given `seed`).
pub fn recovery(n_train: usize, n_test: usize, seed: u64) -> Recovery {
    let (d, n, r) = (6usize, 5usize, 3usize);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cores = Vec::with_capacity(d);
    for k in 0..d {
        let a = if k == 0 { 1 } else { r };
        let b = if k == d - 1 { 1 } else { r };
        let mut c = Array3::zeros((a, n, b));
        for alpha in 0..a {
            for j in 0..n {
                for beta in 0..b {
                    let eye = if j == 0 && alpha == beta { 1.0 } else { 0.0 };
                    let std = 0.5f64.powi(j as i32 + 1);
                    let z: f64 = StandardNormal.sample(&mut rng);
                    c[[alpha, j, beta]] = eye + std * z;
                }
            }
        }
        cores.push(c);
    }
    let truth = TensorTrain::from_cores(cores).expect("valid cores");
    let make = |rng: &mut StdRng, count: usize| {
        let x = uniform_points(rng, count, d);
        let f = features(&x, n);
        let views: Vec<_> = f.iter().map(|m| m.view()).collect();
        let y = interfaces::values(&truth, &views, Par::Seq).expect("values");
        SampleSet::new(f, y, None).expect("valid samples")
    };
    let train = make(&mut rng, n_train);
    let test = make(&mut rng, n_test);
    Recovery { truth, train, test }
}

/// `count` samples of the borehole function (water flow through a borehole, d = 8, the
/// standard surrogate-modelling benchmark), inputs uniform on its box and mapped affinely to
/// `[-1, 1]`, with `n` Legendre features per variable.
pub fn borehole_samples(rng: &mut StdRng, count: usize, n: usize) -> SampleSet {
    let f = TestFunction::Borehole;
    let domain = f.domain();
    let t = uniform_points(rng, count, f.dim());
    let mut x = t.clone();
    for (mut col, &(lo, hi)) in x.columns_mut().into_iter().zip(domain.iter()) {
        col.mapv_inplace(|ti| lo + (ti + 1.0) * 0.5 * (hi - lo));
    }
    let y = f.eval(x.view()).expect("borehole takes 8 inputs");
    SampleSet::new(features(&t, n), y, None).expect("valid samples")
}

/// Borehole training and test sets (deterministic given `seed`).
pub fn borehole_problem(
    n_train: usize,
    n_test: usize,
    n: usize,
    seed: u64,
) -> (SampleSet, SampleSet) {
    let mut rng = StdRng::seed_from_u64(seed);
    let train = borehole_samples(&mut rng, n_train, n);
    let test = borehole_samples(&mut rng, n_test, n);
    (train, test)
}
