//! Integration tests of the feature bases: orthonormality by exact quadrature, derivatives
//! against finite differences, parsing, serde, input maps and outside-domain policies.

use ndarray::{array, Array1, Array2, ArrayView1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::{PI, SQRT_2};
use ttfit::basis::quadrature::{
    composite_gauss_legendre, gauss_hermite, gauss_legendre, periodic_trapezoid,
};
use ttfit::basis::{
    gram_matrix, Basis, FeatureBasis, FeatureMap, FnFamily, InputMap, Measure, Monomials,
    OrthoMonomials, Orthonormalized, OutsidePolicy, VariableFeatures,
};
use ttfit::Error;

fn max_abs_diff_identity(g: &Array2<f64>) -> f64 {
    let n = g.nrows();
    let mut m = 0.0_f64;
    for i in 0..n {
        for j in 0..n {
            let e = if i == j { 1.0 } else { 0.0 };
            m = m.max((g[[i, j]] - e).abs());
        }
    }
    m
}

fn all_bases() -> Vec<Basis> {
    let mut v = vec![];
    for n in [1, 2, 5, 12, 30, 60] {
        v.push(Basis::legendre(n));
    }
    for n in [1, 2, 5, 12, 25] {
        v.push(Basis::hermite(n));
    }
    for m in [0, 1, 3, 10, 40] {
        v.push(Basis::fourier(m));
    }
    for (p, k) in [(0, 1), (0, 5), (1, 3), (2, 4), (3, 7), (5, 2)] {
        v.push(Basis::piecewise(p, k));
    }
    for p in [0, 1, 3, 6] {
        v.push(Basis::monomial(p, Measure::Uniform).unwrap());
        v.push(Basis::monomial(p, Measure::Gaussian).unwrap());
    }
    v
}

// ---------------------------------------------------------------- quadrature

#[test]
fn gauss_legendre_integrates_polynomials_exactly() {
    for n in [1, 2, 3, 7, 20, 64, 200] {
        let rule = gauss_legendre(n).unwrap();
        assert_eq!(rule.len(), n);
        assert!(
            rule.nodes.windows(2).all(|w| w[0] < w[1]),
            "nodes increasing"
        );
        assert!(rule.weights.iter().all(|&w| w > 0.0));
        // ∫ x^{2m} dx/2 = 1/(2m+1), odd moments 0, for 2m <= 2n-1.
        for k in 0..(2 * n).min(40) {
            let exact = if k % 2 == 1 {
                0.0
            } else {
                1.0 / (k as f64 + 1.0)
            };
            let q = rule.integrate(|x| x.powi(k as i32));
            assert!((q - exact).abs() < 1e-14, "n={n} k={k}: {q} vs {exact}");
        }
    }
}

#[test]
fn gauss_hermite_integrates_gaussian_moments_exactly() {
    for n in [1, 2, 3, 6, 20, 50, 150] {
        let rule = gauss_hermite(n).unwrap();
        assert_eq!(rule.len(), n);
        assert!(
            rule.nodes.windows(2).all(|w| w[0] < w[1]),
            "nodes increasing (n={n})"
        );
        assert!(rule.weights.iter().all(|&w| w > 0.0));
        // E[x^{2m}] = (2m-1)!!, odd moments 0, for 2m <= 2n-1.
        let mut dfact = 1.0;
        for m in 0..n.min(12) {
            if m > 0 {
                dfact *= (2 * m - 1) as f64;
            }
            let q = rule.integrate(|x| x.powi(2 * m as i32));
            assert!(
                (q - dfact).abs() < 1e-12 * dfact,
                "n={n} m={m}: {q} vs {dfact}"
            );
            let odd = rule.integrate(|x| x.powi(2 * m as i32 + 1));
            assert!(odd.abs() < 1e-11 * dfact.max(1.0), "n={n} odd moment {odd}");
        }
    }
}

#[test]
fn composite_and_trapezoid_rules() {
    let r = composite_gauss_legendre(3, 4).unwrap();
    assert_eq!(r.len(), 12);
    assert!((r.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    // |x| is piecewise linear on the 4 cells: ∫|x| dx/2 = 1/2.
    assert!((r.integrate(f64::abs) - 0.5).abs() < 1e-15);
    let t = periodic_trapezoid(9).unwrap();
    // exact for cos(pi k x) with k < 9
    for k in 1..9 {
        assert!(t.integrate(|x| (PI * k as f64 * x).cos()).abs() < 1e-14);
    }
    assert!(gauss_legendre(0).is_err());
    assert!(gauss_hermite(0).is_err());
    assert!(composite_gauss_legendre(2, 0).is_err());
}

// ---------------------------------------------------------------- orthonormality

#[test]
fn every_family_is_orthonormal_under_its_exact_rule() {
    for b in all_bases() {
        let rule = b.gram_rule().unwrap();
        let g = gram_matrix(&b, &rule).unwrap();
        assert_eq!(g.dim(), (b.dim(), b.dim()));
        let err = max_abs_diff_identity(&g);
        assert!(err < 1e-12, "{b}: |G - I|_max = {err:e}");
        // A richer rule of the same kind gives the same identity (the rule is not tuned to it).
        let richer = match b {
            Basis::Hermite { n } => gauss_hermite(n + 7).unwrap(),
            Basis::Fourier { n_freq } => periodic_trapezoid(4 * n_freq + 7).unwrap(),
            Basis::Piecewise { degree, cells } => {
                composite_gauss_legendre(degree + 4, cells).unwrap()
            }
            Basis::Monomial(ref m) if m.measure() == Measure::Gaussian => {
                gauss_hermite(m.degree() + 9).unwrap()
            }
            _ => gauss_legendre(b.dim() + 9).unwrap(),
        };
        let err2 = max_abs_diff_identity(&gram_matrix(&b, &richer).unwrap());
        assert!(err2 < 1e-12, "{b} (richer rule): |G - I|_max = {err2:e}");
    }
}

#[test]
fn closed_forms_of_low_degrees() {
    let t = array![-1.0, -0.3, 0.0, 0.55, 1.0];
    let leg = Basis::legendre(4).eval(t.view());
    let her = Basis::hermite(4).eval(t.view());
    let fou = Basis::fourier(2).eval(t.view());
    for (i, &x) in t.iter().enumerate() {
        let p = [
            1.0,
            x,
            (3.0 * x * x - 1.0) / 2.0,
            (5.0 * x * x * x - 3.0 * x) / 2.0,
        ];
        for j in 0..4 {
            let want = (2.0 * j as f64 + 1.0).sqrt() * p[j];
            assert!((leg[[i, j]] - want).abs() < 1e-14);
        }
        let he = [
            1.0,
            x,
            (x * x - 1.0) / SQRT_2,
            (x * x * x - 3.0 * x) / 6f64.sqrt(),
        ];
        for j in 0..4 {
            assert!((her[[i, j]] - he[j]).abs() < 1e-14);
        }
        let f = [
            1.0,
            SQRT_2 * (PI * x).cos(),
            SQRT_2 * (PI * x).sin(),
            SQRT_2 * (2.0 * PI * x).cos(),
            SQRT_2 * (2.0 * PI * x).sin(),
        ];
        for j in 0..5 {
            assert!((fou[[i, j]] - f[j]).abs() < 1e-14);
        }
    }
}

#[test]
fn piecewise_layout_and_sparsity() {
    let b = Basis::piecewise(2, 4);
    assert_eq!(b.dim(), 12);
    // x = 0.1 lies in cell 2 ([0, 0.5)), t = 4 * 1.1 - 5 = -0.6.
    let phi = b.eval(array![0.1].view());
    let t: f64 = -0.6;
    let k: f64 = 4.0;
    let want = [
        k.sqrt(),
        (3.0 * k).sqrt() * t,
        (5.0 * k).sqrt() * (3.0 * t * t - 1.0) / 2.0,
    ];
    for j in 0..12 {
        let w = if (6..9).contains(&j) {
            want[j - 6]
        } else {
            0.0
        };
        assert!((phi[[0, j]] - w).abs() < 1e-13, "j={j}");
    }
    // End points belong to the end cells; exactly p+1 non-zeros per row.
    let phi = b.eval(array![-1.0, 1.0, -0.5, 0.5].view());
    for row in phi.outer_iter() {
        assert_eq!(row.iter().filter(|v| **v != 0.0).count(), 3);
    }
    assert!(phi[[0, 0]] != 0.0 && phi[[1, 9]] != 0.0);
}

#[test]
fn orthonormalized_monomials_are_legendre_and_hermite() {
    // Gram-Schmidt of 1, t, t^2.. with positive pivots = orthonormal polynomials with positive
    // leading coefficient = the Legendre (uniform) / Hermite (Gaussian) features.
    let t = Array1::linspace(-1.0, 1.0, 41);
    for p in 0..=8 {
        let m = Basis::monomial(p, Measure::Uniform).unwrap().eval(t.view());
        let l = Basis::legendre(p + 1).eval(t.view());
        let err = (&m - &l).mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
        assert!(err < 1e-9, "degree {p}: {err:e}");
        let tg = Array1::linspace(-3.0, 3.0, 41);
        let m = Basis::monomial(p, Measure::Gaussian)
            .unwrap()
            .eval(tg.view());
        let h = Basis::hermite(p + 1).eval(tg.view());
        let err = (&m - &h).mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
        assert!(err < 1e-9, "gaussian degree {p}: {err:e}");
    }
    assert!(Basis::monomial(200, Measure::Uniform).is_err());
}

#[test]
fn user_family_by_closure_is_orthonormalized() {
    // 1, t, |t|, cos(3t): not polynomial; orthonormal under the rule used to build it.
    let fam = FnFamily::new(4, |t, out| {
        out[0] = 1.0;
        out[1] = t;
        out[2] = t.abs();
        out[3] = (3.0 * t).cos();
    })
    .with_derivatives(|t, order, out| {
        if order != 1 {
            return false;
        }
        out[0] = 0.0;
        out[1] = 1.0;
        out[2] = t.signum();
        out[3] = -3.0 * (3.0 * t).sin();
        true
    });
    let rule = composite_gauss_legendre(20, 2).unwrap();
    let b = Orthonormalized::with_rule(fam, Measure::Uniform, &rule).unwrap();
    let g = gram_matrix(&b, &rule).unwrap();
    assert!(max_abs_diff_identity(&g) < 1e-12);
    // |t| is piecewise linear and cos(3t) smooth: the composite rule is (nearly) exact, so a
    // much finer rule agrees to high accuracy.
    let fine = composite_gauss_legendre(40, 2).unwrap();
    assert!(max_abs_diff_identity(&gram_matrix(&b, &fine).unwrap()) < 1e-12);
    // Derivatives: order 1 available, order 2 not.
    let t = array![0.3];
    assert!(b.evaluate(t.view(), 1).is_ok());
    assert!(matches!(
        b.evaluate(t.view(), 2),
        Err(Error::InvalidParameter { .. })
    ));
    // A linearly dependent family is rejected with a clear message.
    let dep = FnFamily::new(3, |t, out| {
        out[0] = 1.0;
        out[1] = t;
        out[2] = 2.0 * t - 1.0;
    });
    let err = Orthonormalized::new(dep, Measure::Uniform, 10).unwrap_err();
    assert!(
        err.to_string().contains("combination of the previous ones"),
        "{err}"
    );
    // The generic wrapper over Monomials agrees with the serializable one.
    let gen = Orthonormalized::new(Monomials { degree: 4 }, Measure::Uniform, 12).unwrap();
    let ser = OrthoMonomials::new(4, Measure::Uniform).unwrap();
    for (a, b) in gen.l_inv().iter().zip(ser.l_inv()) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0));
    }
}

// ---------------------------------------------------------------- derivatives

/// Central differences with h = 1e-5 have truncation error h^2/6 max|f'''| ≈ 1.7e-11 max|f'''|
/// and rounding error ≈ eps max|f| / h ≈ 2.2e-11 max|f|. For the degrees tested (<= 9 per cell,
/// frequencies <= 4) max|f'''| <= 1e5 · max(1, max|f'|), so 1e-6 · max(1, max|f'|) is a safe,
/// still discriminating tolerance (a wrong factor or index is an O(1) relative error).
fn check_fd(b: &Basis, points: &[f64]) {
    let h = 1e-5;
    let t = Array1::from(points.to_vec());
    let tp = t.mapv(|x| x + h);
    let tm = t.mapv(|x| x - h);
    for order in [1usize, 2] {
        let d = b.eval_derivative(t.view(), order).unwrap();
        let (fp, fm) = if order == 1 {
            (b.eval(tp.view()), b.eval(tm.view()))
        } else {
            (
                b.eval_derivative(tp.view(), 1).unwrap(),
                b.eval_derivative(tm.view(), 1).unwrap(),
            )
        };
        let fd = (&fp - &fm) / (2.0 * h);
        let scale = d.iter().fold(1.0_f64, |a, v| a.max(v.abs()));
        for ((i, j), &v) in d.indexed_iter() {
            assert!(
                (v - fd[[i, j]]).abs() < 1e-6 * scale,
                "{b} order {order} at t={} feature {j}: {v} vs fd {}",
                points[i],
                fd[[i, j]]
            );
        }
    }
}

#[test]
fn derivatives_match_central_differences() {
    let mut rng = StdRng::seed_from_u64(11);
    let uniform: Vec<f64> = (0..40).map(|_| rng.random_range(-0.999..0.999)).collect();
    let normal: Vec<f64> = (0..40).map(|_| rng.random_range(-3.0..3.0)).collect();
    for b in [
        Basis::legendre(10),
        Basis::fourier(4),
        Basis::monomial(6, Measure::Uniform).unwrap(),
    ] {
        check_fd(&b, &uniform);
    }
    for b in [
        Basis::hermite(8),
        Basis::monomial(5, Measure::Gaussian).unwrap(),
    ] {
        check_fd(&b, &normal);
    }
    // Piecewise: stay away from cell boundaries (jumps), where the derivative is one-sided.
    for (p, k) in [(1usize, 3usize), (3, 4), (2, 7)] {
        let cells = k as f64;
        let inner: Vec<f64> = uniform
            .iter()
            .copied()
            .filter(|&x| {
                let s = (x + 1.0) * cells / 2.0;
                (s - s.round()).abs() > 1e-3
            })
            .collect();
        assert!(inner.len() > 20);
        check_fd(&Basis::piecewise(p, k), &inner);
    }
}

#[test]
fn legendre_derivatives_are_exact_at_the_end_points() {
    // P'_j(±1) = (±1)^{j+1} j(j+1)/2, P''_j(1) = (j-1) j (j+1) (j+2) / 8.
    let b = Basis::legendre(15);
    let t = array![1.0, -1.0];
    let d1 = b.eval_derivative(t.view(), 1).unwrap();
    let d2 = b.eval_derivative(t.view(), 2).unwrap();
    for j in 0..15 {
        let jf = j as f64;
        let s = (2.0 * jf + 1.0).sqrt();
        let want = s * jf * (jf + 1.0) / 2.0;
        assert!((d1[[0, j]] - want).abs() < 1e-12 * want.max(1.0));
        let sign = if j % 2 == 0 { -1.0 } else { 1.0 };
        assert!((d1[[1, j]] - sign * want).abs() < 1e-12 * want.max(1.0));
        let want2 = s * (jf - 1.0) * jf * (jf + 1.0) * (jf + 2.0) / 8.0;
        assert!((d2[[0, j]] - want2).abs() < 1e-12 * want2.abs().max(1.0));
    }
    assert!(matches!(
        b.eval_derivative(t.view(), 3),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn feature_map_derivatives_apply_the_chain_rule() {
    let fm = FeatureMap::from_parts(
        vec![Basis::legendre(6), Basis::hermite(5)],
        vec![
            InputMap::interval(2.0, 5.0),
            InputMap::standardize(10.0, 4.0),
        ],
        vec!["a".into(), "b".into()],
    )
    .unwrap();
    let h = 1e-5;
    let x = array![[2.5, 3.0], [4.9, 15.0], [3.3, 10.0]];
    let d1 = fm.derivatives(x.view(), 1, OutsidePolicy::Error).unwrap();
    for k in 0..2 {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.column_mut(k).mapv_inplace(|v| v + h);
        xm.column_mut(k).mapv_inplace(|v| v - h);
        let fp = fm.features(xp.view(), OutsidePolicy::Extrapolate).unwrap();
        let fm_ = fm.features(xm.view(), OutsidePolicy::Extrapolate).unwrap();
        let fd = (&fp[k] - &fm_[k]) / (2.0 * h);
        let scale = d1[k].iter().fold(1.0_f64, |a, v| a.max(v.abs()));
        let err = (&fd - &d1[k])
            .mapv(f64::abs)
            .fold(0.0_f64, |a, &b| a.max(b));
        assert!(err < 1e-6 * scale, "variable {k}: {err:e}");
    }
    // Second derivative: factor (2/3)^2 on the interval variable.
    let d2 = fm.derivatives(x.view(), 2, OutsidePolicy::Error).unwrap();
    let t = x.column(0).mapv(|v| (2.0 * v - 7.0) / 3.0);
    let ref2 = Basis::legendre(6).eval_derivative(t.view(), 2).unwrap() * (4.0 / 9.0);
    assert!(
        (&d2[0] - &ref2)
            .mapv(f64::abs)
            .fold(0.0_f64, |a, &b| a.max(b))
            < 1e-12
    );
}

// ---------------------------------------------------------------- parsing and serde

#[test]
fn parse_round_trips() {
    let cases = [
        ("legendre:8", Basis::legendre(8), 8),
        ("hermite:6", Basis::hermite(6), 6),
        ("fourier:5", Basis::fourier(5), 11),
        ("piecewise:2x4", Basis::piecewise(2, 4), 12),
        (" Legendre : 3 ", Basis::legendre(3), 3),
        ("PIECEWISE:0X10", Basis::piecewise(0, 10), 10),
        (
            "monomial:3",
            Basis::monomial(3, Measure::Uniform).unwrap(),
            4,
        ),
        (
            "monomial-gaussian:2",
            Basis::monomial(2, Measure::Gaussian).unwrap(),
            3,
        ),
    ];
    for (s, want, dim) in cases {
        let b = Basis::parse(s).unwrap();
        assert_eq!(b, want, "{s}");
        assert_eq!(b.dim(), dim, "{s}");
        let again: Basis = b.to_string().parse().unwrap();
        assert_eq!(again, b, "{s} -> {b}");
    }
    assert_eq!(Basis::parse("fourier:0").unwrap().dim(), 1);
}

#[test]
fn parse_errors_are_clear() {
    let cases = [
        ("legendre", "no size"),
        ("legendre:x", "not a non-negative integer"),
        ("legendre:-1", "not a non-negative integer"),
        ("legendre:0", "between 1 and"),
        ("legendre:100000", "between 1 and"),
        ("piecewise:2", "DEGREExCELLS"),
        ("piecewise:2x0", "at least one cell"),
        ("piecewise:ax3", "degree"),
        ("chebyshev:4", "unknown feature family"),
        ("monomial:40", "legendre:41"),
        ("", "no size"),
    ];
    for (s, needle) in cases {
        match Basis::parse(s) {
            Err(e @ Error::InvalidParameter { .. }) => {
                assert!(e.to_string().contains(needle), "{s}: {e}")
            }
            other => panic!("{s}: expected InvalidParameter, got {other:?}"),
        }
    }
}

#[test]
fn serde_round_trips() {
    for b in all_bases() {
        let json = serde_json::to_string(&b).unwrap();
        let back: Basis = serde_json::from_str(&json).unwrap();
        match (&back, &b) {
            // serde_json without its `float_roundtrip` feature may parse a float 1 ulp off.
            (Basis::Monomial(x), Basis::Monomial(y)) => {
                assert_eq!((x.degree(), x.measure()), (y.degree(), y.measure()));
                for (u, v) in x.l_inv().iter().zip(y.l_inv()) {
                    assert!((u - v).abs() <= 4.0 * f64::EPSILON * v.abs(), "{json}");
                }
            }
            _ => assert_eq!(back, b, "{json}"),
        }
    }
    assert_eq!(
        serde_json::to_string(&Basis::legendre(8)).unwrap(),
        r#"{"family":"legendre","n":8}"#
    );
    assert_eq!(
        serde_json::to_string(&Basis::piecewise(2, 4)).unwrap(),
        r#"{"family":"piecewise","degree":2,"cells":4}"#
    );
    // Corrupted orthonormalization matrices are rejected when read.
    let bad = r#"{"family":"monomial","degree":2,"measure":"uniform","l_inv":[[1.0],[0.0,1.0]]}"#;
    assert!(serde_json::from_str::<Basis>(bad).is_err());
    let bad = r#"{"family":"monomial","degree":1,"measure":"uniform","l_inv":[[1.0],[0.0]]}"#;
    assert!(serde_json::from_str::<Basis>(bad).is_err());

    let fm = FeatureMap::from_parts(
        vec![
            Basis::legendre(4),
            Basis::hermite(3),
            Basis::monomial(2, Measure::Uniform).unwrap(),
        ],
        vec![
            InputMap::interval(0.0, 1.0),
            InputMap::standardize(0.5, 2.0),
            InputMap::interval(-3.0, 3.0),
        ],
        vec!["u".into(), "v".into(), "w".into()],
    )
    .unwrap();
    let json = serde_json::to_string(&fm).unwrap();
    let back: FeatureMap = serde_json::from_str(&json).unwrap();
    let x = array![[0.2, 1.0, -1.0], [0.9, -2.0, 2.5]];
    let (a, b) = (
        back.features(x.view(), OutsidePolicy::Error).unwrap(),
        fm.features(x.view(), OutsidePolicy::Error).unwrap(),
    );
    for k in 0..3 {
        assert!(
            (&a[k] - &b[k])
                .mapv(f64::abs)
                .fold(0.0_f64, |m, &v| m.max(v))
                < 1e-14
        );
    }
    assert_eq!(back.names(), fm.names());
    assert_eq!(back.maps(), fm.maps());
    assert_eq!(
        serde_json::to_string(&OutsidePolicy::Clamp).unwrap(),
        r#""clamp""#
    );
}

// ---------------------------------------------------------------- input maps and policies

#[test]
fn input_maps() {
    let m = InputMap::interval(2.0, 6.0);
    assert_eq!(m.to_reference(2.0), -1.0);
    assert_eq!(m.to_reference(6.0), 1.0);
    assert_eq!(m.to_reference(4.0), 0.0);
    assert_eq!(m.from_reference(0.5), 5.0);
    assert_eq!(m.derivative_factor(), 0.5);
    assert_eq!(m.bounds(), Some((2.0, 6.0)));
    let s = InputMap::standardize(1.0, 4.0);
    assert_eq!(s.to_reference(9.0), 2.0);
    assert_eq!(s.derivative_factor(), 0.25);
    assert_eq!(s.bounds(), None);
    assert!(InputMap::interval(1.0, 1.0).validate("x").is_err());
    assert!(InputMap::interval(f64::NAN, 1.0).validate("x").is_err());
    assert!(InputMap::standardize(0.0, 0.0).validate("x").is_err());
    assert_eq!(OutsidePolicy::default(), OutsidePolicy::Extrapolate);
    for p in [
        OutsidePolicy::Extrapolate,
        OutsidePolicy::Clamp,
        OutsidePolicy::Error,
    ] {
        assert_eq!(OutsidePolicy::parse(&p.to_string()).unwrap(), p);
    }
    assert!(OutsidePolicy::parse("ignore").is_err());
}

fn two_var_map() -> FeatureMap {
    FeatureMap::with_basis(
        Basis::legendre(4),
        vec![InputMap::interval(0.0, 1.0), InputMap::interval(-2.0, 2.0)],
        vec!["p".into(), "q".into()],
    )
    .unwrap()
}

#[test]
fn outside_policies() {
    let fm = two_var_map();
    assert_eq!(fm.mode_sizes(), vec![4, 4]);
    assert_eq!(fm.domain(), vec![Some((0.0, 1.0)), Some((-2.0, 2.0))]);
    // Row 1 outside in p, row 3 outside in both, boundaries themselves are inside.
    let x = array![
        [0.5, 0.0],
        [1.5, 1.0],
        [0.0, 2.0],
        [-1.0, -3.0],
        [1.0, -2.0]
    ];

    let (phi, outside) = fm
        .features_checked(x.view(), OutsidePolicy::Extrapolate)
        .unwrap();
    assert_eq!(outside, 2);
    assert_eq!(phi.len(), 2);
    assert_eq!(phi[0].dim(), (5, 4));
    // Extrapolation = the polynomials evaluated at t = 2 (x = 1.5 on [0, 1]).
    let at2 = Basis::legendre(4).eval(ArrayView1::from(&[2.0]));
    assert!((&phi[0].row(1) - &at2.row(0)).mapv(f64::abs).sum() < 1e-13);

    let (clamped, outside) = fm.features_checked(x.view(), OutsidePolicy::Clamp).unwrap();
    assert_eq!(outside, 2);
    let at1 = Basis::legendre(4).eval(ArrayView1::from(&[1.0, -1.0]));
    assert!((&clamped[0].row(1) - &at1.row(0)).mapv(f64::abs).sum() < 1e-15);
    assert!((&clamped[0].row(3) - &at1.row(1)).mapv(f64::abs).sum() < 1e-15);
    assert!((&clamped[1].row(3) - &at1.row(1)).mapv(f64::abs).sum() < 1e-15);
    // Inside rows are untouched by the policy.
    assert_eq!(clamped[0].row(0), phi[0].row(0));
    // Derivatives of clamped coordinates vanish, the others carry the factor.
    let d = fm.derivatives(x.view(), 1, OutsidePolicy::Clamp).unwrap();
    assert!(d[0].row(1).iter().all(|v| *v == 0.0));
    assert!(d[0].row(0).iter().any(|v| *v != 0.0));

    match fm.features(x.view(), OutsidePolicy::Error) {
        Err(Error::OutsideDomain {
            row,
            variable,
            value,
            lo,
            hi,
        }) => {
            assert_eq!(
                (row, variable.as_str(), value, lo, hi),
                (1, "p", 1.5, 0.0, 1.0)
            );
        }
        other => panic!("expected OutsideDomain, got {other:?}"),
    }
    // No outside point: all policies agree and report 0.
    let inside = array![[0.0, -2.0], [1.0, 2.0], [0.3, 0.1]];
    let a = fm
        .features_checked(inside.view(), OutsidePolicy::Error)
        .unwrap();
    let b = fm
        .features_checked(inside.view(), OutsidePolicy::Clamp)
        .unwrap();
    assert_eq!(a.1, 0);
    assert_eq!(a, b);
}

#[test]
fn feature_map_validation() {
    let fm = two_var_map();
    // Wrong number of columns.
    let e = fm
        .features(array![[0.1, 0.2, 0.3]].view(), OutsidePolicy::Extrapolate)
        .unwrap_err();
    assert!(
        matches!(e, Error::Data { .. }) && e.to_string().contains("3 columns"),
        "{e}"
    );
    // Non-finite input names the row and the variable.
    let e = fm
        .features(
            array![[0.1, 0.2], [0.3, f64::NAN]].view(),
            OutsidePolicy::Extrapolate,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("row 1") && e.to_string().contains("\"q\""),
        "{e}"
    );
    // Measure mismatch: Hermite needs a standardization.
    let e = FeatureMap::with_basis(
        Basis::hermite(3),
        vec![InputMap::interval(0.0, 1.0)],
        vec!["z".into()],
    )
    .unwrap_err();
    assert!(e.to_string().contains("standardize"), "{e}");
    // Count mismatch and empty maps.
    assert!(FeatureMap::from_parts(vec![Basis::legendre(2)], vec![], vec!["a".into()]).is_err());
    assert!(FeatureMap::<Basis>::new(vec![]).is_err());
    assert!(FeatureMap::new(vec![VariableFeatures {
        name: "a".into(),
        basis: Basis::piecewise(1, 0),
        map: InputMap::interval(0.0, 1.0)
    }])
    .is_err());
    // Standardized variables have no bounds: never outside.
    let g = FeatureMap::with_basis(
        Basis::hermite(3),
        vec![InputMap::standardize(0.0, 1.0)],
        vec!["z".into()],
    )
    .unwrap();
    let (_, outside) = g
        .features_checked(array![[100.0], [-50.0]].view(), OutsidePolicy::Error)
        .unwrap();
    assert_eq!(outside, 0);
    // Per-variable evaluation.
    let (phi, out) = fm
        .variable_features(
            1,
            ArrayView1::from(&[0.0, 3.0]),
            0,
            OutsidePolicy::Extrapolate,
        )
        .unwrap();
    assert_eq!((phi.dim(), out), ((2, 4), 1));
    assert!(fm
        .variable_features(2, ArrayView1::from(&[0.0]), 0, OutsidePolicy::Extrapolate)
        .is_err());
}

#[test]
fn user_bases_plug_into_feature_maps() {
    type Dyn = Box<dyn FeatureBasis + Send + Sync>;
    let fam = FnFamily::new(2, |t, out| {
        out[0] = 1.0;
        out[1] = t * t * t;
    });
    let user: Dyn = Box::new(Orthonormalized::new(fam, Measure::Uniform, 8).unwrap());
    let builtin: Dyn = Box::new(Basis::fourier(2));
    let fm = FeatureMap::from_parts(
        vec![user, builtin],
        vec![InputMap::interval(0.0, 1.0), InputMap::interval(0.0, 1.0)],
        vec!["a".into(), "b".into()],
    )
    .unwrap();
    assert_eq!(fm.mode_sizes(), vec![2, 5]);
    let phi = fm
        .features(array![[0.5, 0.5], [1.0, 0.0]].view(), OutsidePolicy::Error)
        .unwrap();
    // t = 0 -> t^3 = 0: orthonormalized (1, t^3) = (1, t^3 / ||t^3||) with ||t^3||^2 = 1/7.
    assert!((phi[0][[0, 1]]).abs() < 1e-14);
    assert!((phi[0][[1, 1]] - 7f64.sqrt()).abs() < 1e-12);
}

#[test]
fn evaluation_shapes_and_empty_input() {
    let b = Basis::legendre(5);
    let e = b.eval(ArrayView1::from(&[] as &[f64]));
    assert_eq!(e.dim(), (0, 5));
    let fm = two_var_map();
    let (phi, outside) = fm
        .features_checked(Array2::zeros((0, 2)).view(), OutsidePolicy::Error)
        .unwrap();
    assert_eq!((phi[0].dim(), outside), ((0, 4), 0));
    let mut out = Array2::zeros((3, 4));
    assert!(b
        .eval_into(ArrayView1::from(&[0.0, 1.0, 0.5]), 0, out.view_mut())
        .is_err());
}
