//! The NGD benchmark problem shared by `benches/optimizers.rs` and `examples/gram_cpu_rate.rs`
//! (so that both measure the same thing): a random TT truth at rank `r`, Legendre features of
//! uniform inputs, small noise, and a random rank-`r` starting point.

#![allow(dead_code)]

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::Par;
use tensor_train::{CoreDistribution, TensorTrain};
use ttfit::samples::SampleSet;

/// Orthonormal Legendre features `sqrt(2 j + 1) P_j(t)`, `t` uniform on `[-1, 1]`.
pub fn legendre_features(
    n_samples: usize,
    d: usize,
    n: usize,
    rng: &mut StdRng,
) -> Vec<Array2<f64>> {
    (0..d)
        .map(|_| {
            Array2::from_shape_fn((n_samples, n), |_| 0.0).tap_fill(|f| {
                for mut row in f.rows_mut() {
                    let t: f64 = rng.random_range(-1.0..1.0);
                    let (mut p0, mut p1) = (1.0, t);
                    for j in 0..n {
                        let pj = match j {
                            0 => 1.0,
                            1 => t,
                            _ => {
                                let p2 =
                                    ((2 * j - 1) as f64 * t * p1 - (j - 1) as f64 * p0) / j as f64;
                                p0 = p1;
                                p1 = p2;
                                p2
                            }
                        };
                        row[j] = (2.0 * j as f64 + 1.0).sqrt() * pj;
                    }
                }
            })
        })
        .collect()
}

trait TapFill {
    fn tap_fill(self, f: impl FnOnce(&mut Self)) -> Self;
}
impl TapFill for Array2<f64> {
    fn tap_fill(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// `(data, x0)`: `N` samples of a random rank-`r` TT in `d` variables (`n` features each)
/// plus noise of size `1e-3`, and a random rank-`r` starting point (seed `seed`).
pub fn problem(
    n_samples: usize,
    d: usize,
    n: usize,
    r: usize,
    seed: u64,
) -> (SampleSet, TensorTrain) {
    let mut rng = StdRng::seed_from_u64(seed);
    let truth = TensorTrain::random(
        &vec![n; d],
        &vec![r; d - 1],
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let feats = legendre_features(n_samples, d, n, &mut rng);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = truth.eval_features(&views, Par::Rayon(0)).unwrap();
    let noise = Array1::from_shape_fn(n_samples, |_| 1e-3 * rng.random_range(-1.0..1.0));
    let data = SampleSet::new(feats, y + noise, None).unwrap();
    let x0 = TensorTrain::random(
        &vec![n; d],
        &vec![r; d - 1],
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    (data, x0)
}
