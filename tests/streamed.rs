//! The streamed linearization (`ttfit::optim::streamed`) against the in-memory
//! `SampleLinearization` (itself checked against the dense `J = A E_X` in `tests/linearized.rs`):
//! the same `J c`, `J^T w`, Jacobian rows and blocks to rounding, bitwise the same results for
//! 1, 2 and 3 threads, and the same PCG solution through the unchanged Gram solvers.

use ndarray::{s, Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};
use ttfit::basis::{Basis, FeatureMap, InputMap, OutsidePolicy};
use ttfit::optim::gram::{GramSolver, GramSystem};
use ttfit::optim::linearized::{LinearizedModel, SampleLinearization};
use ttfit::optim::streamed::StreamedSamples;

const N: usize = 1_000;
/// Streamed chunk: 4 chunks, the last one partial.
const CHUNK: usize = 300;

struct Problem {
    fmap: FeatureMap,
    x: Array2<f64>,
    tt: TensorTrain,
}

fn problem(d: usize, n: usize, r: usize, seed: u64) -> Problem {
    let mut rng = StdRng::seed_from_u64(seed);
    let ranks = clamp_ranks(&vec![n; d], &vec![r; d - 1]);
    let tt = TensorTrain::random(
        &vec![n; d],
        &ranks,
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let x = Array2::from_shape_simple_fn((N, d), || rng.random_range(0.0..2.0));
    let fmap = FeatureMap::with_basis(
        Basis::legendre(n),
        vec![InputMap::interval(0.0, 2.0); d],
        (1..=d).map(|k| format!("x{k}")).collect(),
    )
    .unwrap();
    Problem { fmap, x, tt }
}

fn max_abs(a: &Array1<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn bits(a: &Array1<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// `J c`, `J^T w`, rows of `J` and of its blocks, and the values of the point equal the
/// in-memory model's. Tolerance: entries of `J` are products of orthonormal factors and
/// Legendre values (`|phi| <= sqrt(2k+1)`, about 3 at n = 4), so each product is a sum of at
/// most `N D` terms of size O(10); the two models group those sums differently, which moves
/// the result by at most a few `N u` relative to the scale: 1e-10 relative is ample and
/// still far below any modelling error.
#[test]
fn streamed_equals_in_memory() {
    let p = problem(4, 4, 3, 1);
    let ts = TangentSpace::new(&p.tt).unwrap();
    let feats = p.fmap.features(p.x.view(), OutsidePolicy::Error).unwrap();
    let fv: Vec<ArrayView2<'_, f64>> = feats.iter().map(|f| f.view()).collect();
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let mem = SampleLinearization::new(&ts, &si, &fv);
    let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Error)
        .unwrap()
        .with_chunk(CHUNK);
    let st = samples.linearization(&ts, Par::Seq).unwrap();
    assert_eq!((st.n_rows(), st.dim()), (mem.n_rows(), mem.dim()));
    assert_eq!(st.block_offsets(), mem.block_offsets());

    let mut rng = StdRng::seed_from_u64(2);
    let c = Array1::from_shape_fn(st.dim(), |_| rng.random_range(-1.0..1.0));
    let w = Array1::from_shape_fn(N, |_| rng.random_range(-1.0..1.0));
    let (jc, jc_ref) = (
        st.jvp(c.view(), Par::Seq).unwrap(),
        mem.jvp(c.view(), Par::Seq).unwrap(),
    );
    assert!(max_abs(&(&jc - &jc_ref)) <= 1e-10 * max_abs(&jc_ref));
    let (jtw, jtw_ref) = (
        st.vjp(w.view(), Par::Seq).unwrap(),
        mem.vjp(w.view(), Par::Seq).unwrap(),
    );
    assert!(max_abs(&(&jtw - &jtw_ref)) <= 1e-10 * max_abs(&jtw_ref));

    // rows across a chunk boundary (250..700 spans three streamed chunks)
    let rows = 250..700;
    let mut a = Array2::zeros((rows.len(), st.dim()));
    let mut b = Array2::zeros((rows.len(), st.dim()));
    st.jacobian_rows_into(rows.clone(), a.view_mut()).unwrap();
    mem.jacobian_rows_into(rows.clone(), b.view_mut()).unwrap();
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!((&a - &b).iter().all(|v| v.abs() <= 1e-12 * scale));
    let off = st.block_offsets().to_vec();
    for k in 0..off.len() - 1 {
        let mut blk = Array2::zeros((rows.len(), off[k + 1] - off[k]));
        st.jacobian_block_rows_into(k, rows.clone(), blk.view_mut())
            .unwrap();
        let want = b.slice(s![.., off[k]..off[k + 1]]);
        assert!(
            (&blk - &want).iter().all(|v| v.abs() <= 1e-12 * scale),
            "block {k}"
        );
    }

    // values of the point, streamed, against the in-memory evaluation
    let v = samples.values(&p.tt, Par::Seq).unwrap();
    let v_ref = p.tt.eval_features(&fv, Par::Seq).unwrap();
    assert!(max_abs(&(&v - &v_ref)) <= 1e-12 * max_abs(&v_ref));

    // a selected-row model equals the in-memory one's selection
    let idx: Vec<usize> = (0..N).step_by(7).collect();
    let (sa, sb) = (
        st.select_rows(&idx).unwrap(),
        mem.select_rows(&idx).unwrap(),
    );
    let c2 = sa
        .vjp(w.select(ndarray::Axis(0), &idx).view(), Par::Seq)
        .unwrap();
    let c2_ref = sb
        .vjp(w.select(ndarray::Axis(0), &idx).view(), Par::Seq)
        .unwrap();
    assert!(max_abs(&(&c2 - &c2_ref)) <= 1e-12 * max_abs(&c2_ref));
}

/// `J c`, `J^T w` and the streamed values are bitwise the same sequentially and in pools of 1, 2
/// and 3 threads (fixed chunking and merge tree).
#[test]
fn streamed_products_do_not_depend_on_the_thread_count() {
    let p = problem(5, 3, 2, 3);
    let ts = TangentSpace::new(&p.tt).unwrap();
    let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Extrapolate)
        .unwrap()
        .with_chunk(CHUNK / 3);
    let st = samples.linearization(&ts, Par::Seq).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let c = Array1::from_shape_fn(st.dim(), |_| rng.random_range(-1.0..1.0));
    let w = Array1::from_shape_fn(N, |_| rng.random_range(-1.0..1.0));
    let run = |par: Par| {
        (
            bits(&st.jvp(c.view(), par).unwrap()),
            bits(&st.vjp(w.view(), par).unwrap()),
            bits(&samples.values(&p.tt, par).unwrap()),
        )
    };
    let reference = run(Par::Seq);
    for threads in [1, 2, 3] {
        assert!(
            in_pool(threads, || run(Par::Rayon(0))) == reference,
            "{threads} threads"
        );
    }
}

/// The unchanged PCG solver, given the streamed model, returns the in-memory model's natural
/// step: full rows, and the sub-sampled operator/preconditioner (materialized rows). Both
/// solves are tight (forcing 1e-12), so the two steps differ by the rounding of the right-hand
/// sides amplified by the condition number of the Gram (small for a random start): 1e-8
/// relative.
#[test]
fn pcg_on_the_streamed_model_gives_the_in_memory_step() {
    let p = problem(4, 4, 3, 5);
    let ts = TangentSpace::new(&p.tt).unwrap();
    let feats = p.fmap.features(p.x.view(), OutsidePolicy::Error).unwrap();
    let fv: Vec<ArrayView2<'_, f64>> = feats.iter().map(|f| f.view()).collect();
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let t = Array1::from_shape_fn(N, |i| ((i as f64) * 0.37).sin());
    for subsample in [None, Some(400)] {
        let solver = GramSolver::Pcg {
            rel_shift: 1e-12,
            max_iter: 500,
            forcing: 1e-12,
            subsample,
        };
        let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Error)
            .unwrap()
            .with_chunk(CHUNK);
        let st = samples.linearization(&ts, Par::Seq).unwrap();
        let a = GramSystem::from_model(st, None, solver, Par::Seq).unwrap();
        let b = GramSystem::from_model(
            SampleLinearization::new(&ts, &si, &fv),
            None,
            solver,
            Par::Seq,
        )
        .unwrap();
        let (ca, ra) = a.solve_target_report(t.view(), None).unwrap();
        let (cb, rb) = b.solve_target_report(t.view(), None).unwrap();
        assert!(ra.converged && rb.converged, "{ra:?} {rb:?}");
        assert!(
            max_abs(&(&ca - &cb)) <= 1e-8 * max_abs(&cb),
            "subsample {subsample:?}: {}",
            max_abs(&(&ca - &cb)) / max_abs(&cb)
        );
    }
}

/// Bad inputs are errors naming what is wrong.
#[test]
fn bad_inputs_are_reported() {
    let p = problem(3, 3, 2, 6);
    let narrow = p.x.slice(s![.., ..2]);
    let e = StreamedSamples::new(&p.fmap, narrow, OutsidePolicy::Error).unwrap_err();
    assert!(e.to_string().contains("columns"), "{e}");
    let other = problem(3, 4, 2, 7).tt;
    let ts = TangentSpace::new(&other).unwrap();
    let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Error).unwrap();
    let e = samples.linearization(&ts, Par::Seq).err().unwrap();
    assert!(e.to_string().contains("mode sizes"), "{e}");
}

/// `solve_target_eta` hands the forcing rule the norm of the right-hand side `J^T t / N` (the
/// gradient norm) and solves to the tolerance it returns (an Eisenstat–Walker hook).
#[test]
fn forcing_rule_sees_the_gradient_norm() {
    let p = problem(3, 4, 2, 8);
    let ts = TangentSpace::new(&p.tt).unwrap();
    let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Error)
        .unwrap()
        .with_chunk(CHUNK);
    let t = Array1::from_shape_fn(N, |i| ((i as f64) * 0.11).cos());
    let g = samples
        .linearization(&ts, Par::Seq)
        .unwrap()
        .vjp((&t / N as f64).view(), Par::Seq)
        .unwrap();
    let gnorm = g.dot(&g).sqrt();
    let solver = GramSolver::parse("pcg").unwrap();
    let sys = GramSystem::from_model(
        samples.linearization(&ts, Par::Seq).unwrap(),
        None,
        solver,
        Par::Seq,
    )
    .unwrap();
    let mut seen = None;
    let (_, rep) = sys
        .solve_target_eta(t.view(), &mut |b| {
            seen = Some(b);
            0.3
        })
        .unwrap();
    let seen = seen.expect("the rule was called");
    assert!((seen - gnorm).abs() <= 1e-12 * gnorm, "{seen} vs {gnorm}");
    assert_eq!(rep.rhs_norm, seen);
    assert_eq!(rep.tolerance, 0.3);
    assert!(rep.converged && rep.rel_residual <= 0.3);
}

/// The sub-sampled PCG step is the solution of `(G_m + eps I) c = J^T t / N`, checked against a
/// dense Cholesky solve built from the dense Jacobian: `G_m = J_m^T J_m / m` on the evenly
/// strided rows `floor(j N / m)`, `eps = rel_shift tr(G_m) / D` (the operator and the
/// block-Jacobi preconditioner from the same `m` rows and the same shift), the right-hand side
/// from all `N` rows. A large shift (1e-2) makes any mismatch between the operator's shift and
/// the one the dense reference uses visible. Tolerance: PCG is run to `1e-12` relative residual
/// and the shifted system's condition number is at most `1 + tr(G_m) / eps <= 1 + D / 1e-2`
/// (about 3e3 at D = 31), so the solution error is below `3e3 * 1e-12` plus rounding: 1e-7.
#[test]
fn subsampled_pcg_solves_the_subsampled_normal_equations() {
    let p = problem(4, 4, 3, 9);
    let ts = TangentSpace::new(&p.tt).unwrap();
    let samples = StreamedSamples::new(&p.fmap, p.x.view(), OutsidePolicy::Error)
        .unwrap()
        .with_chunk(CHUNK);
    let st = samples.linearization(&ts, Par::Seq).unwrap();
    let j = st.jacobian(Par::Seq).unwrap();
    let t = Array1::from_shape_fn(N, |i| ((i as f64) * 0.23).sin() + 0.1);
    let (m, rel_shift) = (400, 1e-2);
    let idx: Vec<usize> = (0..m).map(|k| k * N / m).collect();
    let jm = j.select(ndarray::Axis(0), &idx);
    let gm = jm.t().dot(&jm) / m as f64;
    let dim = gm.nrows();
    let eps = rel_shift * gm.diag().sum() / dim as f64;
    let b = j.t().dot(&t) / N as f64;
    let exact = tensor_train::linalg::Cholesky::new(gm.view(), eps)
        .unwrap()
        .solve_vec(&b)
        .unwrap();
    let solver = GramSolver::Pcg {
        rel_shift,
        max_iter: 500,
        forcing: 1e-12,
        subsample: Some(m),
    };
    let sys = GramSystem::from_model(st, None, solver, Par::Seq).unwrap();
    let (c, rep) = sys.solve_target_report(t.view(), None).unwrap();
    assert!(rep.converged, "{rep:?}");
    let rel = max_abs(&(&c - &exact)) / max_abs(&exact);
    assert!(rel <= 1e-7, "sub-sampled PCG vs dense: {rel:e}");
    // the reported residual is that of the sub-sampled system
    let res = &b - &(gm.dot(&c) + &c * eps);
    let true_rel = res.dot(&res).sqrt() / b.dot(&b).sqrt();
    assert!(
        true_rel <= 1e-10,
        "{true_rel:e} vs reported {:e}",
        rep.rel_residual
    );
}
