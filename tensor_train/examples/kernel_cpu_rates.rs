//! Kernel rates measured in **CPU time of the calling thread** (Linux
//! `/proc/thread-self/schedstat`), as fractions of a sequential 512^3 GEMM measured the same
//! way in the same run: the figures of the `tt_kernels` bench (same inputs, same nominal flop
//! counts, `benches/common/kernel_setup.rs`) on a machine shared with other jobs, where wall
//! time mostly measures the other jobs. Interference through caches and memory bandwidth
//! remains; pin to one core (`taskset -c 0`) and compare medians.
//!
//! `cargo run --release -p tensor_train --example kernel_cpu_rates [repeats]`

#[path = "../benches/common/cpu_time.rs"]
mod cpu_time;
#[path = "../benches/common/kernel_setup.rs"]
mod kernel_setup;

use cpu_time::per_call;
use kernel_setup::{eval_flops, gaussian, random_tt, rounding_flops};
use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::hint::black_box;
use tensor_train::interfaces::values;
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::TangentSpace;

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut rng = StdRng::seed_from_u64(2);
    // GEMM reference, as in the bench
    let s = 512;
    let sa = gaussian((s, s), &mut rng);
    let sb = gaussian((s, s), &mut rng);
    let mut sc = Array2::zeros((s, s));
    let gemm_s = per_call(repeats, || {
        linalg::gemm(1.0, sa.view(), sb.view(), 0.0, sc.view_mut(), Par::Seq).unwrap()
    });
    let gemm_rate = 2.0 * (s * s * s) as f64 / gemm_s;

    // batch evaluation d = 10, n = 8, r = 8, N = 1e5 (bench group `evaluation`, seed 2)
    let (d, n, r, n_samples) = (10, 8, 8, 100_000);
    let x = random_tt(d, n, r, &mut rng);
    let feats: Vec<Array2<f64>> = (0..d).map(|_| gaussian((n_samples, n), &mut rng)).collect();
    let fv: Vec<ArrayView2<'_, f64>> = feats.iter().map(|f| f.view()).collect();
    let eval_s = per_call(repeats, || {
        black_box(values(&x, &fv, Par::Seq).unwrap());
    });
    let eflops = eval_flops(&x, n_samples);
    let eval_rate = eflops / eval_s;

    // batch evaluation at the solver-table rank: d = 20, n = 6, r = 4, N = 1e5 (width-4
    // cores: the plain fused kernel, not the interleaved one)
    let (d4, n4, r4) = (20, 6, 4);
    let x4 = random_tt(d4, n4, r4, &mut rng);
    let feats4: Vec<Array2<f64>> = (0..d4)
        .map(|_| gaussian((n_samples, n4), &mut rng))
        .collect();
    let fv4: Vec<ArrayView2<'_, f64>> = feats4.iter().map(|f| f.view()).collect();
    let eval4_s = per_call(repeats, || {
        black_box(values(&x4, &fv4, Par::Seq).unwrap());
    });
    let eflops4 = eval_flops(&x4, n_samples);
    let eval4_rate = eflops4 / eval4_s;
    drop(feats4);

    // retraction d = 20, n = 10, r = 16 (bench group `tangent`, seed 3)
    let mut rng = StdRng::seed_from_u64(3);
    let (d, n, r) = (20, 10, 16);
    let x = random_tt(d, n, r, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let coords: Array1<f64> =
        Array1::from_shape_simple_fn(ts.dim(), || StandardNormal.sample(&mut rng));
    let xi = ts.from_coords(coords.view()).unwrap();
    let comb = ts.combined_tt(1.0, 0.1, &xi).unwrap();
    let rflops = rounding_flops(&comb.mode_sizes(), &comb.ranks(), r);
    let retract_s = per_call(repeats, || {
        black_box(ts.retract(0.1, &xi).unwrap());
    });
    let retract_rate = rflops / retract_s;

    println!("CPU time per call, median of {repeats} repeats of >= 0.5 s each");
    println!("| kernel | nominal GFLOP | CPU ms/call | GFLOP/s | fraction of GEMM |");
    println!("|---|---|---|---|---|");
    for (name, fl, t, rate) in [
        (
            "GEMM 512^3 (seq)",
            2.0 * (s * s * s) as f64,
            gemm_s,
            gemm_rate,
        ),
        (
            "batch evaluation d=10 n=8 r=8 N=1e5 (seq)",
            eflops,
            eval_s,
            eval_rate,
        ),
        (
            "batch evaluation d=20 n=6 r=4 N=1e5 (seq)",
            eflops4,
            eval4_s,
            eval4_rate,
        ),
        ("retraction d=20 n=10 r=16", rflops, retract_s, retract_rate),
    ] {
        println!(
            "| {name} | {:.4} | {:.3} | {:.1} | {:.0} % |",
            fl / 1e9,
            t * 1e3,
            rate / 1e9,
            100.0 * rate / gemm_rate
        );
    }
}
