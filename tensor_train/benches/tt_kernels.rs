//! Kernel benchmarks of the TT format and the tangent-space geometry.
//!
//! Throughput is reported by criterion as "elem/s" where one element is one **nominal flop**, so
//! `Gelem/s` reads as GFLOP/s. What is counted (printed again at start-up):
//! - rounding (and retraction, which rounds the rank-2r TT): right-orthogonalization sweep
//!   `sum_k [QR of the (n_k r_k) x r_{k-1} transpose of the right unfolding with thin Q
//!   (4 m q^2 - 4 q^3 / 3 for m >= q) + the product G_{k-1} R^T (2 r_{k-2} n_{k-1} r_{k-1}^2)]`, then the
//!   left-to-right sweep `sum_k [thin SVD of the (r'_{k-1} n_k) x r_k left unfolding,
//!   R-SVD count 6 p q^2 + 20 q^3 with p >= q + the product (S V^T) G_{k+1} (2 r'_k r_k n_{k+1} r_{k+1})]`;
//! - batch evaluation and `J^T w`: `2 N sum_k r_{k-1} n_k r_k` (the per-core GEMMs; the
//!   contraction with the features, `2 N n_k r_k` per core, is not counted);
//! - plain GEMMs: `2 m k n`;
//! - projection of a TT of ranks `s`: the three environment/block contractions per core
//!   (2 GEMMs each) plus the gauge projector `4 r_{k-1} n_k r_k^2`;
//! - Jacobian assembly: `2 N sum_k (r_{k-1} n_k)^2 r_k` as a nominal count (what applying a dense
//!   `(r_{k-1} n_k)`-square orthogonal factor to every row of `L (.) Phi` and expanding with
//!   the right interface would cost). The kernel actually applies `r_k` Householder reflectors
//!   (`~4 N r_{k-1} n_k r_k` flops) and then writes the `N x D` matrix, so it is bound by memory
//!   traffic; the bytes of `J` are printed too. `assemble` allocates a fresh `J` (its first
//!   touch, i.e. page faults, is part of the time), `assemble_into` reuses one buffer.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::hint::black_box;
use std::time::Duration;
use tensor_train::interfaces::values;
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::Truncation;

#[path = "common/kernel_setup.rs"]
mod kernel_setup;
use kernel_setup::{
    eval_flops, gaussian, jacobian_nominal_flops, projection_flops, random_tt, rounding_flops,
};

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

fn bench_rounding(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let (d, n, r, target) = (20, 10, 32, 16);
    let x = random_tt(d, n, r, &mut rng);
    let flops = rounding_flops(&x.mode_sizes(), &x.ranks(), target);
    eprintln!(
        "rounding d={d} n={n} r={r} -> {target}: {:.3} GFLOP nominal",
        flops / 1e9
    );
    let trunc = Truncation::max_rank(target);
    let mut g = c.benchmark_group("rounding");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(flops as u64));
    g.bench_function("d20_n10_r32_to_16", |b| {
        b.iter(|| black_box(x.round(&trunc).unwrap()))
    });
    g.finish();
}

fn bench_evaluation_and_gemm(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let (d, n, r, n_samples) = (10, 8, 8, 100_000);
    let x = random_tt(d, n, r, &mut rng);
    let feats: Vec<Array2<f64>> = (0..d).map(|_| gaussian((n_samples, n), &mut rng)).collect();
    let fv: Vec<ArrayView2<'_, f64>> = feats.iter().map(|f| f.view()).collect();
    let flops = eval_flops(&x, n_samples);
    eprintln!(
        "evaluation d={d} n={n} r={r} N={n_samples}: {:.3} GFLOP nominal",
        flops / 1e9
    );
    let mut g = c.benchmark_group("evaluation");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(flops as u64));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(
            BenchmarkId::new("d10_n8_r8_N100k", name),
            &par,
            |b, &par| b.iter(|| black_box(values(&x, &fv, par).unwrap())),
        );
    }
    g.finish();

    // GEMM of the per-core product shape (N x r) (r x n r), and a square peak reference
    let a = gaussian((n_samples, r), &mut rng);
    let bm = gaussian((r, n * r), &mut rng);
    let mut out = Array2::zeros((n_samples, n * r));
    let mut g = c.benchmark_group("gemm");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements((2 * n_samples * r * n * r) as u64));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(BenchmarkId::new("100000x8x64", name), &par, |b, &par| {
            b.iter(|| linalg::gemm(1.0, a.view(), bm.view(), 0.0, out.view_mut(), par).unwrap())
        });
    }
    let s = 512;
    let sa = gaussian((s, s), &mut rng);
    let sb = gaussian((s, s), &mut rng);
    let mut sc = Array2::zeros((s, s));
    g.throughput(Throughput::Elements((2 * s * s * s) as u64));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(BenchmarkId::new("512x512x512", name), &par, |b, &par| {
            b.iter(|| linalg::gemm(1.0, sa.view(), sb.view(), 0.0, sc.view_mut(), par).unwrap())
        });
    }
    g.finish();
}

fn bench_projection_retraction(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let (d, n, r) = (20, 10, 16);
    let x = random_tt(d, n, r, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let coords: Array1<f64> =
        Array1::from_shape_simple_fn(ts.dim(), || StandardNormal.sample(&mut rng));
    let xi = ts.from_coords(coords.view()).unwrap();
    // a rank-2r TT: a tangent vector at another point
    let y = random_tt(d, n, r, &mut rng);
    let ty = TangentSpace::new(&y).unwrap();
    let z = ty.to_tt(&xi).unwrap();
    let pflops = projection_flops(ts.point(), &z);
    let comb = ts.combined_tt(1.0, 0.1, &xi).unwrap();
    let rflops = rounding_flops(&comb.mode_sizes(), &comb.ranks(), r);
    eprintln!(
        "projection d={d} n={n} r={r}, s=2r: {:.4} GFLOP; retraction: {:.4} GFLOP nominal",
        pflops / 1e9,
        rflops / 1e9
    );
    let mut g = c.benchmark_group("tangent");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(pflops as u64));
    g.bench_function("project_tt_d20_n10_r16_s32", |b| {
        b.iter(|| black_box(ts.project_tt(&z).unwrap()))
    });
    g.throughput(Throughput::Elements(rflops as u64));
    g.bench_function("retract_d20_n10_r16", |b| {
        b.iter(|| black_box(ts.retract(0.1, &xi).unwrap()))
    });
    g.finish();
}

fn bench_jacobian(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(4);
    let (d, n, r, n_samples) = (10, 8, 6, 20_000);
    let x = random_tt(d, n, r, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let feats: Vec<Array2<f64>> = (0..d).map(|_| gaussian((n_samples, n), &mut rng)).collect();
    let fv: Vec<ArrayView2<'_, f64>> = feats.iter().map(|f| f.view()).collect();
    let si = SampleInterfaces::new(&ts, &fv, Par::Rayon(0)).unwrap();
    let w: Array1<f64> =
        Array1::from_shape_simple_fn(n_samples, || StandardNormal.sample(&mut rng));
    let jflops = jacobian_nominal_flops(ts.point(), n_samples);
    let vflops = eval_flops(ts.point(), n_samples);
    eprintln!(
        "jacobian d={d} n={n} r={r} N={n_samples}: D = {}, J is {:.1} MB, {:.3} GFLOP nominal; vjp {:.4} GFLOP nominal",
        ts.dim(),
        (n_samples * ts.dim() * 8) as f64 / 1e6,
        jflops / 1e9,
        vflops / 1e9
    );
    let mut g = c.benchmark_group("jacobian");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(jflops as u64));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(
            BenchmarkId::new("assemble_d10_n8_r6_N20k", name),
            &par,
            |b, &par| b.iter(|| black_box(ts.jacobian(&si, &fv, par).unwrap())),
        );
    }
    // into a reused buffer: without the page faults of a fresh N x D allocation
    let mut jbuf = Array2::zeros((n_samples, ts.dim()));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(
            BenchmarkId::new("assemble_into_d10_n8_r6_N20k", name),
            &par,
            |b, &par| b.iter(|| ts.jacobian_into(&si, &fv, jbuf.view_mut(), par).unwrap()),
        );
    }
    g.throughput(Throughput::Elements(vflops as u64));
    for (name, par) in [("seq", Par::Seq), ("rayon", Par::Rayon(0))] {
        g.bench_with_input(
            BenchmarkId::new("vjp_d10_n8_r6_N20k", name),
            &par,
            |b, &par| b.iter(|| black_box(ts.vjp(&si, &fv, w.view(), par).unwrap())),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_rounding, bench_evaluation_and_gemm, bench_projection_retraction, bench_jacobian
}
criterion_main!(benches);
