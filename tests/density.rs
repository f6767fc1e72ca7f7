//! Density estimation with a squared TT (`ttfit::density`): normalization of every optimizer's
//! iterates, the natural steps against dense references, and the sampler against quadrature.

use approx::assert_abs_diff_eq;
use ndarray::{Array1, Array2, ArrayView1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::Par;
use tensor_train::{TensorTrain, Truncation};
use ttfit::basis::{quadrature::gauss_legendre, Basis, FeatureMap, InputMap};
use ttfit::density::fit::{density_samples, DENSITY_OPTIMIZERS};
use ttfit::density::{self, DensityConfig, SquaredTt, SquaredTtKl};
use ttfit::loss::Loss;
use ttfit::model::FunctionalTT;
use ttfit::optim::ngd::StepRule;
use ttfit::optim::{prepare, OptimizerConfig, StepContext};

const LO: f64 = -2.0;
const HI: f64 = 3.0;

fn features(d: usize, n: usize) -> FeatureMap {
    FeatureMap::with_basis(
        Basis::legendre(n),
        vec![InputMap::interval(LO, HI); d],
        (0..d).map(|k| format!("x{k}")).collect(),
    )
    .unwrap()
}

/// Correlated samples in the box: `t_k = 0.6 s + 0.4 e_k`, `s, e_k ~ U(-1, 1)`.
fn samples(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, d));
    for i in 0..n {
        let s: f64 = rng.random_range(-1.0..1.0);
        for k in 0..d {
            let e: f64 = rng.random_range(-1.0..1.0);
            let t = 0.6 * s + 0.4 * e;
            x[[i, k]] = LO + 0.5 * (t + 1.0) * (HI - LO);
        }
    }
    x
}

/// Tensor Gauss–Legendre nodes (user coordinates) and Lebesgue weights on the box.
fn box_rule(d: usize, m: usize) -> (Array2<f64>, Array1<f64>) {
    let r = gauss_legendre(m).unwrap();
    let total = m.pow(d as u32);
    let mut x = Array2::zeros((total, d));
    let mut w = Array1::from_elem(total, 1.0);
    for i in 0..total {
        let mut rest = i;
        for k in (0..d).rev() {
            let q = rest % m;
            rest /= m;
            x[[i, k]] = LO + 0.5 * (r.nodes[q] + 1.0) * (HI - LO);
            // the rule is a probability rule on [-1, 1]: Lebesgue weight (hi - lo) w_q
            w[i] *= (HI - LO) * r.weights[q];
        }
    }
    (x, w)
}

/// Every density optimizer keeps `||Ψ|| = 1` to 1e-12 after every iteration and lowers the
/// training NLL; the returned density integrates to 1 to 1e-12 by an independent tensor
/// Gauss–Legendre quadrature over the box (6 nodes per variable: exact for `ψ^2` of degree
/// `2 (n - 1) = 6` per variable). Round-off: the norm is the last core's norm after one
/// rescaling (~1e-16); the quadrature sums 216 positive terms (~1e-15).
#[test]
fn every_optimizer_keeps_the_density_normalized() {
    let (d, n) = (3, 4);
    let fm = features(d, n);
    let x = samples(400, d, 1);
    let xv = samples(200, d, 2);
    let (qx, qw) = box_rule(d, 6);
    for (name, _) in DENSITY_OPTIMIZERS {
        let cfg = DensityConfig {
            ranks: vec![2, 2],
            optimizer: DensityConfig::optimizer_from_name(name).unwrap(),
            max_iter: 6,
            ..Default::default()
        };
        let start = density::uniform_start(&fm, &cfg.ranks, 0.1, 3).unwrap();
        let mut worst: f64 = 0.0;
        let fit = density::fit_density(
            &fm,
            x.view(),
            Some(xv.view()),
            start,
            &cfg,
            Par::Seq,
            &mut |r, tt| {
                worst = worst
                    .max(r.norm_error.abs())
                    .max((tt.norm().unwrap() - 1.0).abs());
                true
            },
        )
        .unwrap();
        assert!(worst <= 1e-12, "{name}: ||psi|| - 1 reached {worst:e}");
        let h = &fit.history;
        assert!(h.len() > 2, "{name}: stopped after {} records", h.len());
        assert!(
            h.last().unwrap().train_nll < h[0].train_nll - 1e-3,
            "{name}: NLL {} -> {}",
            h[0].train_nll,
            h.last().unwrap().train_nll
        );
        let model = SquaredTt::new(FunctionalTT::new(fm.clone(), fit.tt).unwrap()).unwrap();
        let p = model.evaluate(qx.view(), Default::default()).unwrap();
        let integral = p.density.dot(&qw);
        assert_abs_diff_eq!(integral, 1.0, epsilon = 1e-12);
    }
}

/// Dense ingredients at a TT `x`: the tangent basis `E` (`n^d x D`), the rows `Φ(x^i)` and
/// the coordinates `c_X` of the point.
struct Dense {
    e: Array2<f64>,
    phi: Array2<f64>,
    psi: Array1<f64>,
    cx: Array1<f64>,
}

fn kron_rows(feats: &[Array2<f64>]) -> Array2<f64> {
    let n = feats[0].nrows();
    let mut out = Array2::from_elem((n, 1), 1.0);
    for f in feats {
        let (a, b) = (out.ncols(), f.ncols());
        out = Array2::from_shape_fn((n, a * b), |(i, j)| out[[i, j / b]] * f[[i, j % b]]);
    }
    out
}

fn dense(x: &TensorTrain, feats: &[Array2<f64>]) -> Dense {
    let ts = tensor_train::tangent::TangentSpace::new(x).unwrap();
    let e = ts.basis_dense().unwrap();
    let vx = Array1::from_iter(x.to_dense().unwrap().iter().cloned());
    let phi = kron_rows(feats);
    Dense {
        psi: phi.dot(&vx),
        cx: e.t().dot(&vx),
        e,
        phi,
    }
}

/// `argmin_{c ⊥ n} g^T c + c^T G c / 2` by an explicit orthonormal basis of `n^⊥` (from the
/// eigenvectors of `I - n n^T` with eigenvalue 1).
fn constrained_min(g: &Array1<f64>, gm: &Array2<f64>, n: &Array1<f64>) -> Array1<f64> {
    let dim = g.len();
    let p = Array2::<f64>::eye(dim) - outer(n, n);
    let (lam, v) = tensor_train::linalg::eigh(p.view()).unwrap();
    let cols: Vec<usize> = (0..dim).filter(|&j| lam[j] > 0.5).collect();
    let q = Array2::from_shape_fn((dim, cols.len()), |(i, j)| v[[i, cols[j]]]);
    let h = q.t().dot(gm).dot(&q);
    let rhs = -q.t().dot(g);
    let ch = tensor_train::linalg::Cholesky::new(h.view(), 0.0).unwrap();
    q.dot(&ch.solve_vec(&rhs).unwrap())
}

fn outer(a: &Array1<f64>, b: &Array1<f64>) -> Array2<f64> {
    Array2::from_shape_fn((a.len(), b.len()), |(i, j)| a[i] * b[j])
}

/// One natural step with a fixed `alpha`, by the optimizer and by a dense reference.
fn compare_step(
    name: &str,
    alpha: f64,
    reference: impl Fn(&Dense, &Array1<f64>, &TensorTrain) -> Array1<f64>,
) {
    let (d, n) = (3, 3);
    let fm = features(d, n);
    let xs = samples(300, d, 5);
    let data = density_samples(&fm, xs.view()).unwrap();
    let x = density::uniform_start(&fm, &[2, 2], 0.3, 7).unwrap();
    let feats: Vec<Array2<f64>> = data.feature_views().iter().map(|f| f.to_owned()).collect();
    let dn = dense(&x, &feats);
    let nsamp = xs.nrows() as f64;
    // dense Riemannian gradient of L = -(1/N) sum log psi_i^2 + log ||Psi||^2 at ||Psi|| = 1
    let mut grad = dn.phi.t().dot(&dn.psi.mapv(|v| -2.0 / v)) / nsamp;
    let vx = Array1::from_iter(x.to_dense().unwrap().iter().cloned());
    grad.scaled_add(2.0, &vx);
    let g = dn.e.t().dot(&grad);
    assert!(
        g.dot(&dn.cx).abs() < 1e-12,
        "the gradient is not tangent to the sphere"
    );
    let c = reference(&dn, &g, &x);

    let mut cfg = DensityConfig::optimizer_from_name(name).unwrap();
    if let OptimizerConfig::Ngd(c) = &mut cfg {
        c.step = StepRule::Fixed { alpha };
    }
    let mut opt = cfg.build().unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut ctx = StepContext {
        loss: &SquaredTtKl,
        par: Par::Seq,
        rng: &mut rng,
        iteration: 0,
    };
    let (y, rep) = opt.step(&x, &data, &mut ctx).unwrap();
    assert_eq!(
        rep.step_size, alpha,
        "{name}: step {} ({:?})",
        rep.step_size, rep.note
    );
    let xi = dn.e.dot(&c) * alpha;
    let next = (&vx + &xi).into_shape_with_order(vec![n; d]).unwrap();
    let rounded = TensorTrain::from_dense(next.view(), &Truncation::ranks(&[2, 2])).unwrap();
    let want = density::normalized(&rounded).unwrap().to_dense().unwrap();
    let got = y.to_dense().unwrap();
    let err = (&got - &want).mapv(|v| v * v).sum().sqrt();
    assert!(
        err < 1e-9,
        "{name}: step differs from the dense reference by {err:e}"
    );
    // and it moved
    let moved = (&got - &x.to_dense().unwrap()).mapv(|v| v * v).sum().sqrt();
    assert!(moved > 1e-3, "{name}: no move ({moved:e})");
}

/// The Fisher-metric NGD step equals the dense natural-gradient step whose Fisher matrix is
/// computed independently by quadrature, `F_ab = ∫ π s_a s_b dμ` with the score
/// `s_a = d log π (E e_a) = 2 (E e_a)/ψ - 2 <Ψ, E e_a>` (not from the closed form
/// `4 (I - c_X c_X^T)`, which this checks as well), solved by the pseudo-inverse on
/// `c_X^⊥`.
#[test]
fn fisher_step_matches_dense_fisher_information() {
    compare_step("ngd-fisher", 1.0, |dn, g, x| {
        // Fisher information by tensor Gauss–Legendre quadrature on the reference box [-1,1]^3
        let (d, n) = (3, 3);
        let r = gauss_legendre(6).unwrap();
        let vx = Array1::from_iter(x.to_dense().unwrap().iter().cloned());
        let dim = g.len();
        let mut f = Array2::<f64>::zeros((dim, dim));
        let basis = Basis::legendre(n);
        let phi1 = basis.eval(ArrayView1::from(&r.nodes));
        for i0 in 0..6 {
            for i1 in 0..6 {
                for i2 in 0..6 {
                    let rows: Vec<Array2<f64>> = [i0, i1, i2]
                        .iter()
                        .map(|&q| phi1.row(q).to_owned().insert_axis(ndarray::Axis(0)))
                        .collect();
                    let phi = kron_rows(&rows).row(0).to_owned();
                    let w = r.weights[i0] * r.weights[i1] * r.weights[i2];
                    let psi = phi.dot(&vx);
                    let dpsi = dn.e.t().dot(&phi); // (E e_a)(x)
                    let s = dpsi.mapv(|v| 2.0 * v / psi) - &(dn.cx.mapv(|v| 2.0 * v));
                    f.scaled_add(w * psi * psi, &outer(&s, &s));
                }
            }
        }
        let _ = d;
        let closed = (Array2::<f64>::eye(dim) - outer(&dn.cx, &dn.cx)) * 4.0;
        let ferr = (&f - &closed).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
        assert!(
            ferr < 1e-11,
            "Fisher information differs from 4 (I - c c^T) by {ferr:e}"
        );
        constrained_min(g, &f, &dn.cx)
    });
}

/// The empirical-metric NGD step equals the dense minimizer of `g^T c + c^T G c / 2` over
/// `c ⊥ c_X`, `G = J^T diag(2/ψ^2) J / N`, `J = Φ E`.
#[test]
fn empirical_step_matches_dense_constrained_gauss_newton() {
    compare_step("ngd", 1.0, |dn, g, _| {
        let j = dn.phi.dot(&dn.e);
        let h = dn.psi.mapv(|v| 2.0 / (v * v));
        let hj = &j * &h.clone().insert_axis(ndarray::Axis(1));
        let gm = j.t().dot(&hj) / j.nrows() as f64 + Array2::<f64>::eye(g.len()) * 2.0;
        constrained_min(g, &gm, &dn.cx)
    });
}

/// `l = -log v^2` and its derivatives.
#[test]
fn loss_derivatives() {
    let v = Array1::from(vec![0.5, -2.0, 1.0]);
    let y = Array1::zeros(3);
    let l = SquaredTtKl;
    assert_abs_diff_eq!(
        l.value(v.view(), y.view(), None),
        -(0.25f64.ln() + 4f64.ln() + 0.0) / 3.0,
        epsilon = 1e-15
    );
    let d1 = l.first_derivative(v.view(), y.view(), None);
    let d2 = l.second_derivative(v.view(), y.view(), None);
    for i in 0..3 {
        assert_abs_diff_eq!(d1[i], -2.0 / v[i], epsilon = 1e-15);
        assert_abs_diff_eq!(d2[i], 2.0 / (v[i] * v[i]), epsilon = 1e-15);
    }
    assert_eq!(
        l.value(Array1::zeros(1).view(), Array1::zeros(1).view(), None),
        f64::INFINITY
    );
    let _ = prepare;
}

/// A function of a sample row.
type Moment = Box<dyn Fn(ArrayView1<f64>) -> f64>;

/// The conditional sampler against quadrature: at a fixed seed, 20000 draws from a squared TT
/// with strong dependence (`d = 3`, rank 2) match the density's means, second moments and
/// cross moments `E[x_0 x_1]`, `E[x_1 x_2]`, `E[x_0 x_2]` (tensor Gauss–Legendre, exact for these
/// polynomial integrands) within 5 standard errors, and the empirical CDF of the last
/// variable (the end of the conditional chain) is within the 1 % Kolmogorov–Smirnov bound
/// `1.63 / sqrt(n)` of its CDF by quadrature at 40 points.
#[test]
fn sampler_matches_quadrature_moments_and_marginal_cdf() {
    let (d, n) = (3, 4);
    let fm = features(d, n);
    let tt = density::uniform_start(&fm, &[2, 2], 1.5, 11).unwrap();
    let model = SquaredTt::new(FunctionalTT::new(fm.clone(), tt).unwrap()).unwrap();
    let (qx, qw) = box_rule(d, 8);
    let p = model
        .evaluate(qx.view(), Default::default())
        .unwrap()
        .density
        * &qw;
    assert_abs_diff_eq!(p.sum(), 1.0, epsilon = 1e-12);
    let m = 20000;
    let mut rng = StdRng::seed_from_u64(42);
    let s = density::sample(model.psi(), m, &mut rng).unwrap();
    assert!(s.iter().all(|&v| (LO..=HI).contains(&v)));
    let moments: Vec<(String, Moment)> = vec![
        ("x0".into(), Box::new(|r| r[0])),
        ("x1".into(), Box::new(|r| r[1])),
        ("x2".into(), Box::new(|r| r[2])),
        ("x0^2".into(), Box::new(|r| r[0] * r[0])),
        ("x2^2".into(), Box::new(|r| r[2] * r[2])),
        ("x0 x1".into(), Box::new(|r| r[0] * r[1])),
        ("x1 x2".into(), Box::new(|r| r[1] * r[2])),
        ("x0 x2".into(), Box::new(|r| r[0] * r[2])),
    ];
    for (name, f) in &moments {
        let mean: f64 = qx
            .rows()
            .into_iter()
            .zip(p.iter())
            .map(|(r, w)| w * f(r))
            .sum();
        let sq: f64 = qx
            .rows()
            .into_iter()
            .zip(p.iter())
            .map(|(r, w)| w * f(r).powi(2))
            .sum();
        let se = ((sq - mean * mean) / m as f64).sqrt();
        let est: f64 = s.rows().into_iter().map(f).sum::<f64>() / m as f64;
        assert!(
            (est - mean).abs() < 5.0 * se,
            "E[{name}]: sample {est}, quadrature {mean} (se {se:e})"
        );
    }
    // marginal CDF of x2 by quadrature over [lo, t] for x2, the box for x0, x1
    let r = gauss_legendre(8).unwrap();
    let mut ks: f64 = 0.0;
    for j in 1..40 {
        let t = LO + (HI - LO) * j as f64 / 40.0;
        let mut cdf = 0.0;
        for (i, row) in qx.rows().into_iter().enumerate() {
            // map the x2 node from [lo, hi] onto [lo, t]
            let q = i % 8;
            let mut y = row.to_owned();
            y[2] = LO + 0.5 * (r.nodes[q] + 1.0) * (t - LO);
            let w = qw[i] * (t - LO) / (HI - LO);
            let v = model
                .evaluate(y.view().insert_axis(ndarray::Axis(0)), Default::default())
                .unwrap();
            cdf += w * v.density[0];
        }
        let ecdf = s.column(2).iter().filter(|&&v| v <= t).count() as f64 / m as f64;
        ks = ks.max((ecdf - cdf).abs());
    }
    assert!(ks < 1.63 / (m as f64).sqrt(), "KS distance {ks}");
}

/// Model files: a density file reads back as a density with the same cores; a regression
/// file carries no `"model"` field (files written before it existed read as regression
/// models); an unknown kind is refused.
#[test]
fn model_files_record_the_density_kind() {
    use ttfit::model_file::{parse_kind, to_string, to_string_kind, ModelKind};
    let fm = features(3, 3);
    let tt = density::uniform_start(&fm, &[2, 2], 0.5, 1).unwrap();
    let m = FunctionalTT::new(fm, tt).unwrap();
    let text = to_string_kind(&m, None, ModelKind::Density).unwrap();
    let (back, _, kind) = parse_kind(text.as_bytes(), std::path::Path::new("m.json")).unwrap();
    assert_eq!(kind, ModelKind::Density);
    assert_eq!(back.tt().cores(), m.tt().cores());
    let reg = to_string(&m, None).unwrap();
    assert!(!reg.contains("\"model\""));
    let (_, _, kind) = parse_kind(reg.as_bytes(), std::path::Path::new("r.json")).unwrap();
    assert_eq!(kind, ModelKind::Regression);
    // an edited kind breaks the checksum; one with a valid checksum and an unknown kind is refused
    let edited = text.replace("\"model\": \"density\"", "\"model\": \"other\"");
    assert!(parse_kind(edited.as_bytes(), std::path::Path::new("e.json")).is_err());
}

mod sphere_properties {
    use super::{constrained_min, outer};
    use ndarray::{Array1, Array2};
    use proptest::prelude::*;
    use proptest::test_runner::{RngAlgorithm, RngSeed};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use tensor_train::tangent::TangentSpace;
    use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};
    use ttfit::optim::constraint::{Constraint, UnitSphere};

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 24,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(2026),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn gaussian(rng: &mut StdRng, n: usize) -> Array1<f64> {
        (0..n).map(|_| StandardNormal.sample(rng)).collect()
    }

    proptest! {
        #![proptest_config(config())]
        /// On random TTs: the G-orthogonal projection of the unconstrained minimizer of
        /// `g.c + c^T G c / 2` is the minimizer over `c ⊥ c_X` (dense reference through an
        /// explicit basis of `c_X^⊥`), the identity-metric projection is orthogonal, and
        /// `after_retraction` gives `||X|| = 1` with the same direction.
        #[test]
        fn projection_and_normalization(d in 2usize..5, n in 2usize..4, r in 1usize..4, seed in 0u64..1000) {
            let mut rng = StdRng::seed_from_u64(seed);
            let sizes = vec![n; d];
            let ranks = clamp_ranks(&sizes, &vec![r; d - 1]);
            let x = TensorTrain::random(&sizes, &ranks, CoreDistribution::ScaledNormal, &mut rng).unwrap();
            let y = UnitSphere.after_retraction(x.scaled(3.7)).unwrap();
            prop_assert!((y.norm().unwrap() - 1.0).abs() < 1e-14);
            let (dx, dy) = (x.to_dense().unwrap(), y.to_dense().unwrap());
            let ratio = x.norm().unwrap();
            prop_assert!((&dx - &(&dy * ratio)).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b)) < 1e-12 * ratio.max(1.0));
            let ts = TangentSpace::new(&y).unwrap();
            let dim = ts.dim();
            let cx = ts.to_coords(&ts.point_as_tangent()).unwrap();
            prop_assert!((cx.dot(&cx) - 1.0).abs() < 1e-12);
            let a = Array2::from_shape_fn((dim + 2, dim), |_| StandardNormal.sample(&mut rng));
            let gm: Array2<f64> = a.t().dot(&a) / dim as f64 + Array2::<f64>::eye(dim);
            let g = gaussian(&mut rng, dim);
            let ch = tensor_train::linalg::Cholesky::new(gm.view(), 0.0).unwrap();
            let mut c = -ch.solve_vec(&g).unwrap();
            let inv = |r: &Array1<f64>| Ok(ch.solve_vec(r)?);
            UnitSphere.project(&ts, &mut c, Some(&inv)).unwrap();
            let want = constrained_min(&g, &gm, &cx);
            let err = (&c - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
            prop_assert!(err < 1e-9 * (1.0 + want.mapv(f64::abs).sum()), "G-projection differs by {err:e}");
            let mut e = gaussian(&mut rng, dim);
            let e0 = e.clone();
            UnitSphere.project(&ts, &mut e, None).unwrap();
            prop_assert!(e.dot(&cx).abs() < 1e-12 * (1.0 + e0.dot(&e0).sqrt()));
            let p: Array2<f64> = Array2::<f64>::eye(dim) - outer(&cx, &cx);
            let err = (&e - &p.dot(&e0)).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
            prop_assert!(err < 1e-12 * (1.0 + e0.dot(&e0).sqrt()));
        }
    }
}
