mod common;
use common::*;
use ndarray::Array2;
use rand::SeedableRng;
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

fn best<F: FnMut()>(mut f: F, reps: usize) -> f64 {
    let mut b = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        b = b.min(t.elapsed().as_secs_f64());
    }
    b
}

#[test]
#[ignore]
fn probe() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let (d, n, r, ns) = (10, 8, 6, 20_000);
    let sizes = vec![n; d];
    let ranks = tensor_train::clamp_ranks(&sizes, &vec![r; d - 1]);
    let x = random_tt(&sizes, &ranks, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let feats = random_features(&sizes, ns, &mut rng);
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let dim = ts.dim();
    let t_alloc = best(|| { let j = Array2::<f64>::zeros((ns, dim)); std::hint::black_box(&j); }, 3);
    let t_alloc_touch = best(|| { let mut j = Array2::<f64>::zeros((ns, dim)); j.fill(1.0); std::hint::black_box(&j); }, 3);
    let mut pre = Array2::<f64>::zeros((ns, dim));
    pre.fill(1.0);
    let t_fill = best(|| { pre.fill(2.0); std::hint::black_box(&pre); }, 3);
    let t_jac = best(|| { std::hint::black_box(ts.jacobian(&si, &fv, Par::Seq).unwrap()); }, 3);
    let t_rows = best(|| { ts.jacobian_rows(&si, &fv, 0..ns, pre.view_mut()).unwrap(); }, 3);
    // evaluation vs gemm
    let (d2, n2, r2, n2s) = (10, 8, 8, 100_000);
    let s2 = vec![n2; d2];
    let x2 = random_tt(&s2, &tensor_train::clamp_ranks(&s2, &vec![r2; d2 - 1]), &mut rng);
    let f2 = random_features(&s2, n2s, &mut rng);
    let f2v = views(&f2);
    let t_eval = best(|| { std::hint::black_box(tensor_train::interfaces::values(&x2, &f2v, Par::Seq).unwrap()); }, 5);
    let a = gaussian((n2s, 8), &mut rng);
    let b = gaussian((8, 64), &mut rng);
    let mut c = Array2::zeros((n2s, 64));
    let t_gemm = best(|| tensor_train::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq).unwrap(), 5);
    let sa = gaussian((512, 512), &mut rng);
    let mut sc = Array2::zeros((512, 512));
    let t_sq = best(|| tensor_train::linalg::gemm(1.0, sa.view(), sa.view(), 0.0, sc.view_mut(), Par::Seq).unwrap(), 5);
    let a5 = gaussian((512, 8), &mut rng);
    let mut c5 = Array2::zeros((512, 64));
    let t_small = best(|| { for _ in 0..196 { tensor_train::linalg::gemm(1.0, a5.view(), b.view(), 0.0, c5.view_mut(), Par::Seq).unwrap(); } }, 5);
    eprintln!("D {dim}: alloc {t_alloc:.4} alloc+touch {t_alloc_touch:.4} fill {t_fill:.4} jacobian {t_jac:.4} rows-into-prealloc {t_rows:.4}");
    let ef = 2.0 * n2s as f64 * x2.num_params() as f64;
    eprintln!("eval {t_eval:.4} ({:.2} GF/s)  tall gemm {t_gemm:.4} ({:.2} GF/s)  chunk gemms {t_small:.4} ({:.2} GF/s) 512^3 {t_sq:.4} ({:.2} GF/s)",
        ef / t_eval / 1e9, 2.0 * n2s as f64 * 512.0 / t_gemm / 1e9, 196.0 * 2.0 * 512.0 * 512.0 / t_small / 1e9, 2.0 * 512f64.powi(3) / t_sq / 1e9);
}

#[test]
#[ignore]
fn probe_jac_only() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let (d, n, r, ns) = (10, 8, 6, 20_000);
    let sizes = vec![n; d];
    let ranks = tensor_train::clamp_ranks(&sizes, &vec![r; d - 1]);
    let x = random_tt(&sizes, &ranks, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let feats = random_features(&sizes, ns, &mut rng);
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let mut pre = Array2::<f64>::zeros((ns, ts.dim()));
    pre.fill(1.0);
    let t = best(|| ts.jacobian_into(&si, &fv, pre.view_mut(), Par::Seq).unwrap(), 10);
    eprintln!("jacobian_into {t:.4}");
    let (d2, n2, r2, n2s) = (10, 8, 8, 100_000);
    let s2 = vec![n2; d2];
    let x2 = random_tt(&s2, &tensor_train::clamp_ranks(&s2, &vec![r2; d2 - 1]), &mut rng);
    let f2 = random_features(&s2, n2s, &mut rng);
    let f2v = views(&f2);
    let t_eval = best(|| { std::hint::black_box(tensor_train::interfaces::values(&x2, &f2v, Par::Seq).unwrap()); }, 10);
    eprintln!("eval {t_eval:.4}");
}

#[test]
#[ignore]
fn probe_chunk_shapes() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    for &(m, k, n) in &[(512usize, 64usize, 8usize), (512, 8, 64), (2048, 64, 8), (128, 64, 8), (512, 48, 6), (512, 128, 16)] {
        let a = gaussian((m, k), &mut rng);
        let b = gaussian((k, n), &mut rng);
        let mut c = Array2::zeros((m, n));
        let reps = 2000;
        let t = best(|| { for _ in 0..reps { tensor_train::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq).unwrap(); } }, 5);
        let f = 2.0 * (m * k * n) as f64 * reps as f64;
        eprintln!("gemm {m}x{k}x{n}: {:.2} GF/s ({:.2} us/call)", f / t / 1e9, t / reps as f64 * 1e6);
    }
    let l = gaussian((512, 8), &mut rng);
    let p = gaussian((512, 8), &mut rng);
    let mut w = vec![0.0; 512 * 64];
    let t = best(|| { for _ in 0..2000 { tensor_train::interfaces::face_split_into(l.view(), p.view(), &mut w); std::hint::black_box(&w); } }, 5);
    eprintln!("face split 512x(8*8): {:.2} us/call", t / 2000.0 * 1e6);
}

#[test]
#[ignore]
fn probe_fs_only() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let l = gaussian((512, 8), &mut rng);
    let p = gaussian((512, 8), &mut rng);
    let mut w = vec![0.0; 512 * 64];
    for _ in 0..20000 { tensor_train::interfaces::face_split_into(l.view(), p.view(), &mut w); std::hint::black_box(&mut w); }
}
#[test]
#[ignore]
fn probe_gemm_only() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let a = gaussian((512, 64), &mut rng);
    let b = gaussian((64, 8), &mut rng);
    let mut c = Array2::zeros((512, 8));
    for _ in 0..20000 { tensor_train::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq).unwrap(); }
}
#[test]
#[ignore]
fn probe_sq_only() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let a = gaussian((512, 512), &mut rng);
    let mut c = Array2::zeros((512, 512));
    for _ in 0..100 { tensor_train::linalg::gemm(1.0, a.view(), a.view(), 0.0, c.view_mut(), Par::Seq).unwrap(); }
}

#[test]
#[ignore]
fn probe_eval_chunk_env() {
    use tensor_train::interfaces::*;
    let chunk: usize = std::env::var("CH").unwrap().parse().unwrap();
    let old = std::env::var("OLD").is_ok();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (d2, n2, r2, n2s) = (10, 8, 8, 100_000);
    let s2 = vec![n2; d2];
    let x2 = random_tt(&s2, &tensor_train::clamp_ranks(&s2, &vec![r2; d2 - 1]), &mut rng);
    let f2 = random_features(&s2, n2s, &mut rng);
    let t0 = std::time::Instant::now();
    let loops: usize = std::env::var("LOOPS").map(|v| v.parse().unwrap()).unwrap_or(10);
    for _ in 0..loops {
        let mut cur = vec![1.0; chunk * 8];
        let mut next = vec![0.0; chunk * 8];
        let mut work = Vec::new();
        let mut acc = 0.0;
        for s0 in (0..n2s).step_by(chunk) {
            let len = chunk.min(n2s - s0);
            let mut rp = 1;
            cur[..len].fill(1.0);
            for (k, core) in x2.cores().iter().enumerate() {
                let rk = core.shape()[2];
                let phi = f2[k].slice(ndarray::s![s0..s0 + len, ..]);
                let c = ndarray::ArrayView2::from_shape((len, rp), &cur[..len * rp]).unwrap();
                let o = ndarray::ArrayViewMut2::from_shape((len, rk), &mut next[..len * rk]).unwrap();
                left_step_into(c, core, phi, o, &mut work).unwrap(); let _ = old;
                std::mem::swap(&mut cur, &mut next);
                rp = rk;
            }
            acc += cur[0];
        }
        std::hint::black_box(acc);
    }
    eprintln!("wall {:.3}", t0.elapsed().as_secs_f64());
}
