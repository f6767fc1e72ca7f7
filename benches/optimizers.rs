//! Cost of one iteration of the optimizers, with the GEMM rate of the same run as reference.
//!
//! - one ALS sweep and one RGD iteration at N = 100,000, d = 10, n = 8, r = 8;
//! - one NGD step (Jacobian, Gram, Cholesky, retraction) at N = 20,000, d = 10, n = 8, r = 6
//!   (throughput counted as `2 N D^2`), and the Gram assembly alone, sequential and parallel,
//!   counted as `N D^2` flops (the symmetric rank-k update: the lower triangle of `J^T J`),
//!   Jacobian formation included;
//! - GEMMs: the Gram-shaped product of one chunk (`D x 512` times `512 x D`), and 512^3.
//!
//! Throughput is given in "elements" = floating-point operations, so criterion's
//! `Gelem/s` reads as GFLOP/s. Run: `cargo bench --bench optimizers`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::TensorTrain;
use ttfit::loss::LeastSquares;
use ttfit::optim::gram::{assemble_gram, GramSolver};
use ttfit::optim::{OptimizerConfig, StepContext};
use ttfit::samples::SampleSet;

#[path = "common/problem.rs"]
mod problem;
use problem::problem;

fn one_step(name: &str, data: &SampleSet, x0: &TensorTrain) -> TensorTrain {
    let mut opt = OptimizerConfig::from_name(name).unwrap().build().unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut ctx = StepContext {
        loss: &LeastSquares,
        par: Par::Rayon(0),
        rng: &mut rng,
        iteration: 0,
    };
    opt.step(x0, data, &mut ctx).unwrap().0
}

fn bench_iterations(c: &mut Criterion) {
    let mut g = c.benchmark_group("iteration");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(20));
    let (big, x_big) = problem(100_000, 10, 8, 8, 1);
    // ALS local normal matrix per core: 2 N (r^2 n)^2 flops, 2 d - 1 cores per sweep (both directions)
    let p = (8 * 8 * 8) as u64;
    g.throughput(Throughput::Elements(2 * 100_000 * p * p * 19));
    g.bench_function(BenchmarkId::new("als_sweep", "N100000_d10_n8_r8"), |b| {
        b.iter(|| black_box(one_step("als", &big, &x_big)))
    });
    g.throughput(Throughput::Elements(2 * 100_000 * 10 * 8 * 8 * 8));
    g.bench_function(
        BenchmarkId::new("rgd_iteration", "N100000_d10_n8_r8"),
        |b| b.iter(|| black_box(one_step("rgd", &big, &x_big))),
    );
    drop(big);
    let (mid, x_mid) = problem(20_000, 10, 8, 6, 2);
    let ts = TangentSpace::new(&x_mid).unwrap();
    let views = mid.feature_views();
    let si = SampleInterfaces::new(&ts, &views, Par::Rayon(0)).unwrap();
    let dim = ts.dim() as u64;
    g.throughput(Throughput::Elements(2 * 20_000 * dim * dim));
    g.bench_function(BenchmarkId::new("ngd_step", "N20000_d10_n8_r6"), |b| {
        b.iter(|| black_box(one_step("ngd", &mid, &x_mid)))
    });
    g.throughput(Throughput::Elements(20_000 * dim * dim));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_function(
            BenchmarkId::new(format!("gram_assembly_{name}"), format!("N20000_D{dim}")),
            |b| b.iter(|| black_box(assemble_gram(&ts, &si, &views, None, 20_000.0, par).unwrap())),
        );
    }
    let _ = GramSolver::default();
    // reference GEMMs on this machine, same run
    let mut rng = StdRng::seed_from_u64(3);
    let jc = Array2::from_shape_fn((512, dim as usize), |_| rng.random_range(-1.0..1.0));
    let mut acc = Array2::zeros((dim as usize, dim as usize));
    g.throughput(Throughput::Elements(2 * 512 * dim * dim));
    g.bench_function(
        BenchmarkId::new("gemm_gram_chunk", format!("{dim}x512x{dim}")),
        |b| b.iter(|| linalg::gemm(1.0, jc.t(), jc.view(), 1.0, acc.view_mut(), Par::Seq).unwrap()),
    );
    let a = Array2::from_shape_fn((512, 512), |_| rng.random_range(-1.0..1.0));
    let mut c512 = Array2::zeros((512, 512));
    g.throughput(Throughput::Elements(2 * 512 * 512 * 512));
    g.bench_function("gemm_512_seq", |b| {
        b.iter(|| linalg::gemm(1.0, a.view(), a.view(), 0.0, c512.view_mut(), Par::Seq).unwrap())
    });
    g.bench_function("gemm_512_par", |b| {
        b.iter(|| {
            linalg::gemm(1.0, a.view(), a.view(), 0.0, c512.view_mut(), Par::Rayon(0)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_iterations);
criterion_main!(benches);
