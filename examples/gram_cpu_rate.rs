//! Gram assembly rates in **CPU time of the calling thread**, as fractions of a sequential
//! 512^3 GEMM timed the same way in the same run (the timing of
//! `tensor_train/examples/kernel_cpu_rates.rs`, shared through
//! `tensor_train/benches/common/cpu_time.rs`), on the problem of `benches/optimizers.rs`
//! (N = 20,000, d = 10, n = 8, r = 6, D = 2076; `benches/common/problem.rs`):
//!
//! - `assemble_gram`, sequential, Jacobian formation included, counted as `N D^2` flops (the
//!   symmetric rank-k update `J^T W J`);
//! - the Jacobian formation alone (`jacobian_rows_into` over 512-row chunks), for the split;
//! - `assemble_blocks` (the block-Jacobi blocks `J_k^T W J_k`), counted as `sum_k N D_k^2`;
//! - the Gram-shaped GEMM `(D x 512) (512 x D)`, counted as `2 * 512 D^2`.
//!
//! `cargo run --release --example gram_cpu_rate [repeats]` (pinned: `taskset -c 1
//! target/release/examples/gram_cpu_rate 3`).

#[path = "../tensor_train/benches/common/cpu_time.rs"]
mod cpu_time;
#[path = "../benches/common/problem.rs"]
mod problem;

use cpu_time::per_call_stats;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use ttfit::optim::gram::{assemble_blocks, assemble_gram};
use ttfit::optim::linearized::{LinearizedModel, SampleLinearization};

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut rows: Vec<(String, f64, (f64, f64, f64))> = Vec::new();
    let mut rng = StdRng::seed_from_u64(3);
    let s = 512;
    let a = Array2::from_shape_fn((s, s), |_| rng.random_range(-1.0..1.0));
    let mut c = Array2::zeros((s, s));
    let gemm = per_call_stats(repeats, 0.5, || {
        linalg::gemm(1.0, a.view(), a.view(), 0.0, c.view_mut(), Par::Seq).expect("gemm")
    });
    rows.push(("GEMM 512^3 (seq)".into(), 2.0 * (s * s * s) as f64, gemm));

    let n_samples = 20_000;
    let (data, x0) = problem::problem(n_samples, 10, 8, 6, 2);
    let ts = TangentSpace::new(&x0).expect("tangent space");
    let views = data.feature_views();
    let si = SampleInterfaces::new(&ts, &views, Par::Seq).expect("interfaces");
    let dim = ts.dim();
    let nf = n_samples as f64;

    let jc = Array2::from_shape_fn((512, dim), |_| rng.random_range(-1.0..1.0));
    let mut acc = Array2::zeros((dim, dim));
    let gshape = per_call_stats(repeats, 0.5, || {
        linalg::gemm(1.0, jc.t(), jc.view(), 1.0, acc.view_mut(), Par::Seq).expect("gemm")
    });
    rows.push((
        format!("GEMM {dim}x512x{dim} (Gram-shaped, seq)"),
        2.0 * 512.0 * (dim * dim) as f64,
        gshape,
    ));

    let gram = per_call_stats(repeats, 0.5, || {
        black_box(assemble_gram(&ts, &si, &views, None, nf, Par::Seq).expect("gram"));
    });
    rows.push((
        format!("assemble_gram N={n_samples} D={dim} (seq, N D^2)"),
        nf * (dim * dim) as f64,
        gram,
    ));

    let model = SampleLinearization::new(&ts, &si, &views);
    let mut jb = Array2::zeros((512, dim));
    let jac = per_call_stats(repeats, 0.5, || {
        for r0 in (0..n_samples).step_by(512) {
            let r1 = (r0 + 512).min(n_samples);
            let blk = jb.slice_mut(ndarray::s![..r1 - r0, ..]);
            model.jacobian_rows_into(r0..r1, blk).expect("jacobian");
        }
        black_box(&jb);
    });
    rows.push((
        "Jacobian rows alone (share of assemble_gram)".into(),
        f64::NAN,
        jac,
    ));

    let off = model.block_offsets().to_vec();
    let block_flops: f64 = off
        .windows(2)
        .map(|w| nf * ((w[1] - w[0]) as f64).powi(2))
        .sum();
    let blocks = per_call_stats(repeats, 0.5, || {
        black_box(assemble_blocks(&ts, &si, &views, None, nf, Par::Seq).expect("blocks"));
    });
    rows.push((
        "assemble_blocks (seq, sum_k N D_k^2)".into(),
        block_flops,
        blocks,
    ));

    // item "Jacobian buffers reused across iterations": what a reused N x D buffer of the
    // dense QR solver would save per iteration (allocation + first touch), against filling it
    // and against the QR factorization that follows (2 N D^2 - 2 D^3 / 3 flops at ~GEMM rate)
    let fill_fresh = per_call_stats(repeats, 0.5, || {
        let mut j = linalg::QrLeastSquares::buffer(n_samples, dim);
        model
            .jacobian_into(j.view_mut(), Par::Seq)
            .expect("jacobian");
        black_box(&j);
    });
    let mut j_reused = linalg::QrLeastSquares::buffer(n_samples, dim);
    let fill_reused = per_call_stats(repeats, 0.5, || {
        model
            .jacobian_into(j_reused.view_mut(), Par::Seq)
            .expect("jacobian");
        black_box(&j_reused);
    });
    rows.push((
        format!("dense-QR Jacobian {n_samples}x{dim}, fresh buffer"),
        f64::NAN,
        fill_fresh,
    ));
    rows.push((
        format!("dense-QR Jacobian {n_samples}x{dim}, reused buffer"),
        f64::NAN,
        fill_reused,
    ));

    // one chunk of a block-Jacobi block, J_k^T J_k for a 512 x D_k chunk: the full GEMM
    // (what `assemble_blocks` did) against the lower-triangle SYRK (what it does), both
    // counted as the SYRK's 512 D_k (D_k + 1) flops; D_k = 96, 252, 448 are the interior
    // blocks of (n, r) = (6, 4), (8, 6), (8, 8)
    for dk in [96usize, 252, 448] {
        let jk = Array2::from_shape_fn((512, dk), |_| rng.random_range(-1.0..1.0));
        let mut gk = Array2::zeros((dk, dk));
        let fl = 512.0 * (dk * (dk + 1)) as f64;
        let full = per_call_stats(repeats, 0.5, || {
            linalg::gemm(1.0, jk.t(), jk.view(), 1.0, gk.view_mut(), Par::Seq).expect("gemm")
        });
        rows.push((format!("block chunk 512x{dk}: GEMM J^T J"), fl, full));
        let tri = per_call_stats(repeats, 0.5, || {
            linalg::syrk_lower(1.0, jk.view(), 1.0, gk.view_mut(), Par::Seq).expect("syrk")
        });
        rows.push((format!("block chunk 512x{dk}: syrk_lower"), fl, tri));
    }

    let gemm_rate = rows[0].1 / gemm.0;
    println!("CPU time per call, median (min-max) of {repeats} repeats of >= 0.5 s each");
    println!("| kernel | nominal GFLOP | CPU ms/call | GFLOP/s | fraction of 512^3 GEMM |");
    println!("|---|---|---|---|---|");
    for (name, fl, (med, lo, hi)) in rows {
        if fl.is_nan() {
            println!(
                "| {name} | - | {:.2} ({:.2}-{:.2}) | - | {:.0} % of the assembly time |",
                med * 1e3,
                lo * 1e3,
                hi * 1e3,
                100.0 * med / gram.0
            );
            continue;
        }
        println!(
            "| {name} | {:.4} | {:.2} ({:.2}-{:.2}) | {:.1} | {:.0} % |",
            fl / 1e9,
            med * 1e3,
            lo * 1e3,
            hi * 1e3,
            fl / med / 1e9,
            100.0 * fl / med / gemm_rate
        );
    }
}
