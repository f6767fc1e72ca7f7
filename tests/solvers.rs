//! Gram solvers against independent dense references (MATH.md §6.4, §12): the matrix-free
//! block-Jacobi PCG (full and sub-sampled), LSQR's stopping rule, Cholesky on a singular Gram,
//! the symmetric rank-k Gram assembly, and thread-count independence of every assembly.

use ndarray::{s, Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::{self, Par};
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};
use ttfit::basis::Basis;
use ttfit::loss::LeastSquares;
use ttfit::optim::gram::{assemble_blocks, assemble_gram, GramSolver, GramSystem, PCG_MIN_DIM};
use ttfit::optim::prepare;
use ttfit::samples::SampleSet;

/// A least-squares problem at a random point: `d` variables, Legendre features of size `n`,
/// ranks `r`, `n_samples` uniform samples of a smooth target, random positive weights if asked.
fn problem(
    d: usize,
    n: usize,
    r: usize,
    n_samples: usize,
    weighted: bool,
    seed: u64,
) -> (TensorTrain, SampleSet) {
    let mut rng = StdRng::seed_from_u64(seed);
    let ranks = clamp_ranks(&vec![n; d], &vec![r; d - 1]);
    let x = TensorTrain::random(
        &vec![n; d],
        &ranks,
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let pts = Array2::from_shape_simple_fn((n_samples, d), || rng.random_range(-1.0..1.0));
    let feats: Vec<Array2<f64>> = pts
        .columns()
        .into_iter()
        .map(|c| Basis::legendre(n).eval(c))
        .collect();
    let y = pts.map_axis(Axis(1), |p| (p.sum() * 0.7).cos());
    let w = weighted.then(|| Array1::from_shape_fn(n_samples, |_| rng.random_range(0.5..2.0)));
    (x, SampleSet::new(feats, y, w).unwrap())
}

fn max_rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale
}

/// Dense reference `(J^T H J / N + eps I)^{-1} J^T H t / N` from the explicit Jacobian.
fn dense_step(j: &Array2<f64>, h: &Array1<f64>, t: &Array1<f64>, eps: f64) -> Array1<f64> {
    let n = j.nrows() as f64;
    let hj = j * &h.view().insert_axis(Axis(1));
    let mut g = j.t().dot(&hj) / n;
    g.diag_mut().mapv_inplace(|v| v + eps);
    let rhs = hj.t().dot(t) / n;
    linalg::Cholesky::new(g.view(), 0.0)
        .unwrap()
        .solve_vec(&rhs)
        .unwrap()
}

/// PCG with a tight forcing term converges to the dense Gauss–Newton step; the tolerance is
/// `cond(G) * forcing` (cond ~ 1e3 here for N = 6 D, so 1e-12 * 1e3 << 1e-7).
#[test]
fn pcg_matches_the_dense_gauss_newton_step() {
    for weighted in [false, true] {
        let (x, data) = problem(4, 4, 3, 1500, weighted, 3);
        let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
        let fv = data.feature_views();
        let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
        let h = data
            .weights()
            .map(|w| w.to_owned())
            .unwrap_or_else(|| Array1::ones(data.len()));
        let t = p.d1.mapv(|v| -v) / &h; // -l'/l'' with l'' = h for weighted least squares
        let exact = dense_step(&j, &h, &t, 0.0);
        let solver = GramSolver::Pcg {
            rel_shift: 0.0,
            max_iter: 500,
            forcing: 1e-12,
            subsample: None,
        };
        let hv = data.weights();
        let sys = GramSystem::new(&p.ts, &p.si, &fv, hv, solver, Par::Seq).unwrap();
        let (c, rep) = sys.solve_target_report(t.view(), None).unwrap();
        assert!(rep.converged && rep.iterations < 500, "{rep:?}");
        let err = max_rel(&c, &exact);
        assert!(err < 1e-7, "weighted {weighted}: PCG deviates by {err:e}");
        // a loose forcing term stops early, is reported, and is still a descent direction
        let (c2, rep2) = sys.solve_target_report(t.view(), Some(0.3)).unwrap();
        assert!(rep2.iterations < rep.iterations && rep2.rel_residual <= 0.3);
        let g = j.t().dot(&(&h * &t)); // = -N * gradient
        assert!(g.dot(&c2) > 0.0);
    }
}

/// The sub-sampled operator solves the sub-sampled normal equations with the full gradient:
/// `(J_S^T J_S / m + eps I) c = J^T t / N` on the rows `S = {floor(j N / m)}`.
#[test]
fn subsampled_pcg_uses_m_rows_for_the_operator_and_all_rows_for_the_gradient() {
    let (x, data) = problem(3, 4, 2, 2000, false, 5);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    let t = p.d1.mapv(|v| -v);
    let m = 700;
    let idx: Vec<usize> = (0..m).map(|i| i * data.len() / m).collect();
    let js = j.select(Axis(0), &idx);
    let mut g = js.t().dot(&js) / m as f64;
    let rhs = j.t().dot(&t) / data.len() as f64;
    let rel_shift = 1e-6;
    let eps = rel_shift * g.diag().sum() / g.nrows() as f64;
    g.diag_mut().mapv_inplace(|v| v + eps);
    let exact = linalg::Cholesky::new(g.view(), 0.0)
        .unwrap()
        .solve_vec(&rhs)
        .unwrap();
    let solver = GramSolver::Pcg {
        rel_shift,
        max_iter: 500,
        forcing: 1e-12,
        subsample: Some(m),
    };
    let sys = GramSystem::new(&p.ts, &p.si, &fv, None, solver, Par::Seq).unwrap();
    let (c, rep) = sys.solve_target_report(t.view(), None).unwrap();
    assert!(rep.converged, "{rep:?}");
    assert!(max_rel(&c, &exact) < 1e-7, "{:e}", max_rel(&c, &exact));
}

/// LSQR with its default settings delivers the Gauss–Newton step at D ~ 280 (the case where
/// the old rule missed it by 2.6e-3), and reports non-convergence when capped.
#[test]
fn lsqr_default_settings_deliver_the_step_or_say_they_did_not() {
    let (x, data) = problem(5, 6, 4, 3000, false, 7);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    assert!(j.ncols() > 200, "D = {}", j.ncols());
    let t = p.d1.mapv(|v| -v);
    let exact = dense_step(&j, &Array1::ones(data.len()), &t, 0.0);
    let solver = GramSolver::parse("lsqr").unwrap();
    let sys = GramSystem::new(&p.ts, &p.si, &fv, None, solver, Par::Seq).unwrap();
    let (c, rep) = sys.solve_target_report(t.view(), None).unwrap();
    assert!(rep.converged, "{rep:?}");
    let err = max_rel(&c, &exact);
    assert!(err < 1e-6, "LSQR deviates by {err:e} ({rep:?})");
    let capped = GramSolver::Lsqr {
        damp: 0.0,
        max_iter: 10,
        tol: 1e-10,
    };
    let sys = GramSystem::new(&p.ts, &p.si, &fv, None, capped, Par::Seq).unwrap();
    let (_, rep) = sys.solve_target_report(t.view(), None).unwrap();
    assert!(!rep.converged && rep.iterations == 10, "{rep:?}");
}

/// With N = D - 1 samples the Gram is singular: unshifted Cholesky refuses (naming the eigen
/// solver), the eigen solver returns the minimum-norm least-squares step.
#[test]
fn unshifted_cholesky_reports_a_singular_gram() {
    let (x, full) = problem(3, 4, 2, 400, false, 9);
    let ts = tensor_train::tangent::TangentSpace::new(&x).unwrap();
    let dim = ts.dim();
    let rows: Vec<usize> = (0..dim - 1).collect();
    let feats: Vec<Array2<f64>> = full
        .feature_views()
        .iter()
        .map(|f| f.select(Axis(0), &rows))
        .collect();
    let y = full.targets().select(Axis(0), &rows);
    let data = SampleSet::new(feats, y, None).unwrap();
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let err = GramSystem::new(
        &p.ts,
        &p.si,
        &fv,
        None,
        GramSolver::Cholesky { rel_shift: 0.0 },
        Par::Seq,
    )
    .err()
    .expect("a singular Gram must be refused");
    assert!(err.to_string().contains("singular"), "{err}");
    assert!(err.to_string().contains("eigen"), "{err}");
    // the eigen pseudo-inverse gives the minimum-norm solution of J c = t (J has full row rank)
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    let t = p.d1.mapv(|v| -v);
    let jjt = j.dot(&j.t());
    let z = linalg::Cholesky::new(jjt.view(), 0.0)
        .unwrap()
        .solve_vec(&t)
        .unwrap();
    let min_norm = j.t().dot(&z);
    let sys = GramSystem::new(
        &p.ts,
        &p.si,
        &fv,
        None,
        GramSolver::Eigen { rel_cutoff: 1e-12 },
        Par::Seq,
    )
    .unwrap();
    let c = sys.solve_target(t.view()).unwrap();
    assert!(
        max_rel(&c, &min_norm) < 1e-6,
        "{:e}",
        max_rel(&c, &min_norm)
    );
}

/// The rank-k Gram and the diagonal blocks equal the dense `J^T H J / N`, and are the same bits
/// sequentially and in pools of 1, 2 and 3 threads (N spans several row blocks and tiles).
#[test]
fn gram_assembly_is_exact_and_independent_of_the_thread_count() {
    let (x, data) = problem(4, 6, 5, 4500, true, 11);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let n = data.len() as f64;
    let w = data.weights().unwrap().mapv(|v| v / n);
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    assert!(j.ncols() > 256, "want several tiles, D = {}", j.ncols());
    let dense = j.t().dot(&(&j * &w.view().insert_axis(Axis(1))));
    let g = assemble_gram(&p.ts, &p.si, &fv, Some(&w), n, Par::Seq).unwrap();
    let scale = dense.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let dev = (&g - &dense).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // both are sums of N products: |difference| <= 2 N u max|J|^2 max w ~ 1e-12 relative
    assert!(dev <= 1e-12 * scale, "{dev:e}");
    assert_eq!(g, g.t());
    let blocks = assemble_blocks(&p.ts, &p.si, &fv, Some(&w), n, Par::Seq).unwrap();
    let off = p.ts.block_offsets();
    for (k, b) in blocks.iter().enumerate() {
        let d = dense.slice(s![off[k]..off[k + 1], off[k]..off[k + 1]]);
        let dev = (b - &d).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(dev <= 1e-12 * scale, "block {k}: {dev:e}");
    }
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (g2, b2) = pool.install(|| {
            (
                assemble_gram(&p.ts, &p.si, &fv, Some(&w), n, Par::Rayon(0)).unwrap(),
                assemble_blocks(&p.ts, &p.si, &fv, Some(&w), n, Par::Rayon(0)).unwrap(),
            )
        });
        assert!(g2
            .iter()
            .zip(g.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        for (a, b) in b2.iter().zip(&blocks) {
            assert!(a
                .iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}

/// `Auto` is Cholesky below the threshold and PCG above; parse round-trips the names.
#[test]
fn auto_resolves_by_dimension_and_names_parse() {
    let auto = GramSolver::default();
    assert!(matches!(auto, GramSolver::Auto { .. }));
    assert!(matches!(
        auto.resolve(PCG_MIN_DIM - 1),
        GramSolver::Cholesky { .. }
    ));
    assert!(matches!(auto.resolve(PCG_MIN_DIM), GramSolver::Pcg { .. }));
    assert!(matches!(
        GramSolver::parse("pcg-sub5000").unwrap(),
        GramSolver::Pcg {
            subsample: Some(5000),
            ..
        }
    ));
    assert!(GramSolver::parse("pcg-subx").is_err());
    // a mini-batch shift reaches the PCG shift
    match GramSolver::parse("pcg").unwrap().with_min_shift(1e-2) {
        GramSolver::Pcg { rel_shift, .. } => assert_eq!(rel_shift, 1e-2),
        other => panic!("{other:?}"),
    }
}
