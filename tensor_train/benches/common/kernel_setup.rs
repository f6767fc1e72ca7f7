//! Inputs and nominal flop counts of the kernel benchmarks (see the module docs of
//! `tt_kernels.rs` for what is counted), shared by `benches/tt_kernels.rs` and
//! `examples/kernel_cpu_rates.rs` so that both measure the same thing.

#![allow(dead_code)]

use ndarray::Array2;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};

pub fn gaussian(shape: (usize, usize), rng: &mut StdRng) -> Array2<f64> {
    Array2::from_shape_simple_fn(shape, || StandardNormal.sample(rng))
}

pub fn random_tt(d: usize, n: usize, r: usize, rng: &mut StdRng) -> TensorTrain {
    let sizes = vec![n; d];
    let ranks = clamp_ranks(&sizes, &vec![r; d - 1]);
    TensorTrain::random(&sizes, &ranks, CoreDistribution::ScaledNormal, rng).unwrap()
}

fn qr_flops(m: usize, q: usize) -> f64 {
    let (m, q) = (m as f64, q as f64);
    if m >= q {
        4.0 * m * q * q - 4.0 * q * q * q / 3.0
    } else {
        // factor the m x m leading block and update the trailing columns, thin Q is m x m
        2.0 * m * m * q - 2.0 * m * m * m / 3.0 + 4.0 * m * m * m / 3.0
    }
}

fn svd_flops(m: usize, n: usize) -> f64 {
    let (p, q) = (m.max(n) as f64, m.min(n) as f64);
    6.0 * p * q * q + 20.0 * q * q * q
}

/// Nominal flops of `round` of a TT with ranks `full` (r_0..r_d) to rank caps `cap`.
pub fn rounding_flops(sizes: &[usize], full: &[usize], cap: usize) -> f64 {
    let d = sizes.len();
    let mut f = 0.0;
    for k in (1..d).rev() {
        f += qr_flops(sizes[k] * full[k + 1], full[k]);
        f += 2.0 * (full[k - 1] * sizes[k - 1] * full[k] * full[k]) as f64;
    }
    let mut a = 1;
    for k in 0..d - 1 {
        f += svd_flops(a * sizes[k], full[k + 1]);
        let rk = cap.min(a * sizes[k]).min(full[k + 1]);
        f += 2.0 * (rk * full[k + 1] * sizes[k + 1] * full[k + 2]) as f64;
        a = rk;
    }
    f
}

pub fn eval_flops(tt: &TensorTrain, n_samples: usize) -> f64 {
    2.0 * n_samples as f64 * tt.num_params() as f64
}

pub fn projection_flops(x: &TensorTrain, z: &TensorTrain) -> f64 {
    let (r, s, n) = (x.ranks(), z.ranks(), x.mode_sizes());
    let d = n.len();
    let mut f = 0.0;
    for k in 0..d {
        let (ra, rb, sa, sb, nk) = (
            r[k] as f64,
            r[k + 1] as f64,
            s[k] as f64,
            s[k + 1] as f64,
            n[k] as f64,
        );
        let env = 2.0 * ra * sa * nk * sb + 2.0 * ra * nk * rb * sb;
        f += env; // block
        if k + 1 < d {
            f += env; // theta
            f += 4.0 * ra * nk * rb * rb; // gauge projector
        }
        if k > 0 {
            f += env; // omega
        }
    }
    f
}

pub fn jacobian_nominal_flops(x: &TensorTrain, n_samples: usize) -> f64 {
    let (r, n) = (x.ranks(), x.mode_sizes());
    let s: usize = (0..n.len()).map(|k| (r[k] * n[k]).pow(2) * r[k + 1]).sum();
    2.0 * n_samples as f64 * s as f64
}
