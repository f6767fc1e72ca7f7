//! The linearized-model abstraction (`ttfit::optim::linearized`) against independent dense
//! references: `J = A E_X` with `A` the Kronecker design matrix (rows `Phi(x^i)`) and `E_X` the
//! dense orthonormal tangent basis (MATH.md §6.1, §9.10); Hessian-factored rows `F_i J_i`
//! (MATH.md §8, vector outputs) against `sum_i J_i^T F_i^T F_i J_i`.

use ndarray::{s, Array1, Array2, Array3, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::Par;
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};
use ttfit::basis::Basis;
use ttfit::loss::LeastSquares;
use ttfit::optim::gram::{blocks_of, gram_of, GramSolver, GramSystem};
use ttfit::optim::linearized::{FactoredRows, LinearizedModel, SampleLinearization};
use ttfit::optim::prepare;
use ttfit::samples::SampleSet;

fn problem(d: usize, n: usize, r: usize, n_samples: usize, seed: u64) -> (TensorTrain, SampleSet) {
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
    (x, SampleSet::new(feats, y, None).unwrap())
}

/// Rows `Phi(x^i)` (first factor slowest, MATH.md §0).
fn design(data: &SampleSet) -> Array2<f64> {
    let mut a = Array2::from_elem((data.len(), 1), 1.0);
    for f in data.feature_views() {
        let (p_n, m) = (a.ncols(), f.ncols());
        let mut next = Array2::zeros((data.len(), p_n * m));
        for i in 0..data.len() {
            for p in 0..p_n {
                for q in 0..m {
                    next[[i, p * m + q]] = a[[i, p]] * f[[i, q]];
                }
            }
        }
        a = next;
    }
    a
}

fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn max_diff1(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Every capability of the sample linearization equals the dense `J = A E_X` to round-off
/// (entries are O(1) products of orthonormal factors: 1e-12 absolute).
#[test]
fn sample_linearization_is_the_dense_jacobian() {
    let (x, data) = problem(3, 3, 2, 700, 1);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let lin = SampleLinearization::new(&p.ts, &p.si, &fv);
    let j_ref = design(&data).dot(&p.ts.basis_dense().unwrap());
    assert_eq!((lin.n_rows(), lin.dim()), j_ref.dim());
    for par in [Par::Seq, Par::Rayon(0)] {
        let j = lin.jacobian(par).unwrap();
        assert!(max_diff(&j, &j_ref) < 1e-12);
    }
    let mut rng = StdRng::seed_from_u64(2);
    let c = Array1::from_shape_fn(lin.dim(), |_| rng.random_range(-1.0..1.0));
    let w = Array1::from_shape_fn(lin.n_rows(), |_| rng.random_range(-1.0..1.0));
    assert!(max_diff1(&lin.jvp(c.view(), Par::Seq).unwrap(), &j_ref.dot(&c)) < 1e-12);
    assert!(max_diff1(&lin.vjp(w.view(), Par::Seq).unwrap(), &j_ref.t().dot(&w)) < 1e-10);
    let off = lin.block_offsets().to_vec();
    for k in 0..off.len() - 1 {
        let rows = 17..600;
        let mut out = Array2::zeros((rows.len(), off[k + 1] - off[k]));
        lin.jacobian_block_rows_into(k, rows.clone(), out.view_mut())
            .unwrap();
        let want = j_ref.slice(s![rows, off[k]..off[k + 1]]).to_owned();
        assert!(max_diff(&out, &want) < 1e-12);
    }
    let idx = [5usize, 3, 600, 42];
    let sub = lin.select_rows(&idx).unwrap();
    let j_sub = sub.jacobian(Par::Seq).unwrap();
    assert!(max_diff(&j_sub, &j_ref.select(Axis(0), &idx)) < 1e-12);
}

/// Factored rows: `C = 3` outputs per group (consecutive rows), random `2 x 3` factors. The
/// Gram and the diagonal blocks of `F_i J_i` equal `sum_i J_i^T F_i^T F_i J_i`, `J c` and
/// `J^T w` equal the dense products, rows requested across group boundaries are right, and the
/// Cholesky step of the system equals the dense weighted least-squares step.
#[test]
fn factored_rows_give_the_block_hessian_gram() {
    let (x, data) = problem(3, 3, 2, 900, 3);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let lin = SampleLinearization::new(&p.ts, &p.si, &fv);
    let j_in = design(&data).dot(&p.ts.basis_dense().unwrap());
    let (c, r) = (3, 2);
    let groups = data.len() / c;
    let mut rng = StdRng::seed_from_u64(4);
    let f = Array3::from_shape_fn((groups, r, c), |_| rng.random_range(-1.0..1.0));
    let fr = FactoredRows::new(&lin, f.clone()).unwrap();
    // dense factored Jacobian
    let dim = lin.dim();
    let mut j_ref = Array2::zeros((groups * r, dim));
    for i in 0..groups {
        let fi = f.index_axis(Axis(0), i);
        let ji = j_in.slice(s![i * c..(i + 1) * c, ..]);
        j_ref
            .slice_mut(s![i * r..(i + 1) * r, ..])
            .assign(&fi.dot(&ji));
    }
    assert_eq!(fr.n_rows(), groups * r);
    for par in [Par::Seq, Par::Rayon(0)] {
        assert!(max_diff(&fr.jacobian(par).unwrap(), &j_ref) < 1e-12);
    }
    // rows across group boundaries
    let rows = 3..(groups * r - 5);
    let mut out = Array2::zeros((rows.len(), dim));
    fr.jacobian_rows_into(rows.clone(), out.view_mut()).unwrap();
    assert!(max_diff(&out, &j_ref.slice(s![rows, ..]).to_owned()) < 1e-12);
    let cv = Array1::from_shape_fn(dim, |_| rng.random_range(-1.0..1.0));
    let w = Array1::from_shape_fn(fr.n_rows(), |_| rng.random_range(-1.0..1.0));
    assert!(max_diff1(&fr.jvp(cv.view(), Par::Seq).unwrap(), &j_ref.dot(&cv)) < 1e-12);
    assert!(max_diff1(&fr.vjp(w.view(), Par::Seq).unwrap(), &j_ref.t().dot(&w)) < 1e-10);
    // Gram = sum_i J_i^T H_i J_i, H_i = F_i^T F_i, over M = N r rows
    let m = fr.n_rows() as f64;
    let mut g_ref = Array2::<f64>::zeros((dim, dim));
    for i in 0..groups {
        let fi = f.index_axis(Axis(0), i);
        let hi = fi.t().dot(&fi);
        let ji = j_in.slice(s![i * c..(i + 1) * c, ..]);
        g_ref += &(ji.t().dot(&hi).dot(&ji) / m);
    }
    for par in [Par::Seq, Par::Rayon(0)] {
        let g = gram_of(&fr, None, m, par).unwrap();
        assert!(max_diff(&g, &g_ref) < 1e-12);
        let blocks = blocks_of(&fr, None, m, par).unwrap();
        let off = fr.block_offsets();
        for (k, b) in blocks.iter().enumerate() {
            let want = g_ref
                .slice(s![off[k]..off[k + 1], off[k]..off[k + 1]])
                .to_owned();
            assert!(max_diff(b, &want) < 1e-12);
        }
    }
    // the system's step: argmin sum_i ||F_i J_i c - t_i||^2 = G^{-1} J_F^T t / M
    let t = Array1::from_shape_fn(fr.n_rows(), |_| rng.random_range(-1.0..1.0));
    let want = tensor_train::linalg::Cholesky::new(g_ref.view(), 0.0)
        .unwrap()
        .solve_vec(&(j_ref.t().dot(&t) / m))
        .unwrap();
    for solver in [
        GramSolver::Cholesky { rel_shift: 0.0 },
        GramSolver::Qr,
        GramSolver::Pcg {
            rel_shift: 0.0,
            max_iter: 500,
            forcing: 1e-13,
            subsample: None,
        },
    ] {
        let sys = GramSystem::from_model(&fr, None, solver, Par::Seq).unwrap();
        let got = sys.solve_target(t.view()).unwrap();
        let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(
            max_diff1(&got, &want) < 1e-8 * scale,
            "{solver:?}: {}",
            max_diff1(&got, &want) / scale
        );
    }
}
