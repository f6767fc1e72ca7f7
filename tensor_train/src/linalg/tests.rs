//! Unit tests of the dense kernels, run against whichever backend is compiled in
//! (`cargo test -p tensor_train --release` for faer, `... --features lapack` for LAPACK).
//!
//! Every assertion is sign-invariant or relies on the module's own sign normalization, so both
//! backends must pass the same tests.
//!
//! Tolerances (`eps` = 2.2e-16), from backward-error bounds `c(m, n) eps ||A||` with sizes up to
//! about 60:
//! - [`QR_TOL`] = 1e-13 (~450 eps) for Householder QR reconstruction and orthonormality;
//! - [`SVD_TOL`] = 5e-12 for SVD reconstruction: LINALG.md §4 measured faer's thin-SVD backward
//!   error at up to 8.5e-13 on graded spectra (gesdd: 9.3e-15), so 1e-14 would fail for faer and
//!   1e-12 leaves no margin. 5e-12 is still far below any truncation tolerance used in TT
//!   rounding.
//! - [`ORTH_TOL`] = 1e-12 for orthonormality of factors from iterative methods (measured
//!   1.5e-14 / 4.4e-15).

use super::*;
use approx::{assert_abs_diff_eq, assert_relative_eq};
use ndarray::{array, s, Array1, Array2, ArrayView2, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

const QR_TOL: f64 = 1e-13;
const SVD_TOL: f64 = 5e-12;
const ORTH_TOL: f64 = 1e-12;

// ---------------------------------------------------------------- helpers

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn randn(m: usize, n: usize, rng: &mut StdRng) -> Array2<f64> {
    Array2::from_shape_simple_fn((m, n), || rng.sample(StandardNormal))
}

/// Reference product by the triple loop (independent of the GEMM under test).
fn naive_mm(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert_eq!(k, b.nrows());
    Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|l| a[[i, l]] * b[[l, j]]).sum())
}

fn fro(a: ArrayView2<'_, f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn max_abs_diff(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "shapes differ");
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// `||A - B||_F / ||B||_F` (absolute when `B` is zero).
fn rel_diff(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "shapes differ");
    let d = (&a - &b).view().iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = fro(b);
    if nb > 0.0 {
        d / nb
    } else {
        d
    }
}

/// `max |Q^T Q - I|` for a matrix with (supposedly) orthonormal columns.
fn orth_err(q: ArrayView2<'_, f64>) -> f64 {
    let g = naive_mm(q.t(), q);
    max_abs_diff(g.view(), Array2::eye(q.ncols()).view())
}

/// `m x k` with orthonormal columns (`k <= m`), by twice-repeated modified Gram–Schmidt on a
/// Gaussian matrix, independent of the QR under test.
fn rand_orth(m: usize, k: usize, rng: &mut StdRng) -> Array2<f64> {
    assert!(k <= m);
    let mut q = randn(m, k, rng);
    for _pass in 0..2 {
        for j in 0..k {
            for i in 0..j {
                let d = q.column(i).dot(&q.column(j));
                let qi = q.column(i).to_owned();
                q.column_mut(j).scaled_add(-d, &qi);
            }
            let nrm = q.column(j).dot(&q.column(j)).sqrt();
            q.column_mut(j).mapv_inplace(|x| x / nrm);
        }
    }
    q
}

/// `U diag(s) V^T` with random orthonormal `U` (`m x k`), `V` (`n x k`), `k = s.len()`.
fn with_spectrum(m: usize, n: usize, s: &[f64], rng: &mut StdRng) -> Array2<f64> {
    let k = s.len();
    let u = rand_orth(m, k, rng);
    let v = rand_orth(n, k, rng);
    let mut us = u;
    for (j, &sj) in s.iter().enumerate() {
        us.column_mut(j).mapv_inplace(|x| x * sj);
    }
    naive_mm(us.view(), v.t())
}

fn layouts(a: &Array2<f64>) -> Vec<(&'static str, Array2<f64>)> {
    // the same matrix in F order
    let f = {
        let mut f = Array2::zeros(a.dim().f());
        f.assign(a);
        f
    };
    vec![("C-order", a.clone()), ("F-order", f)]
}

fn check_qr(a: ArrayView2<'_, f64>, q: &Array2<f64>, r: &Array2<f64>) {
    let (m, n) = a.dim();
    let k = m.min(n);
    assert_eq!(q.dim(), (m, k), "Q shape");
    assert_eq!(r.dim(), (k, n), "R shape");
    if k == 0 {
        return;
    }
    let scale = fro(a).max(f64::MIN_POSITIVE);
    let recon = naive_mm(q.view(), r.view());
    assert_abs_diff_eq!(max_abs_diff(recon.view(), a) / scale, 0.0, epsilon = QR_TOL);
    assert_abs_diff_eq!(orth_err(q.view()), 0.0, epsilon = QR_TOL);
    for i in 0..k {
        assert!(r[[i, i]] >= 0.0, "diag(R)[{i}] = {} < 0", r[[i, i]]);
        for j in 0..i.min(n) {
            assert_abs_diff_eq!(r[[i, j]], 0.0, epsilon = QR_TOL * scale);
        }
    }
}

fn check_svd(a: ArrayView2<'_, f64>, svd: &Svd, tol: f64) {
    let (m, n) = a.dim();
    let k = m.min(n);
    assert_eq!(svd.u.dim(), (m, k), "U shape");
    assert_eq!(svd.s.len(), k, "s length");
    assert_eq!(svd.vt.dim(), (k, n), "V^T shape");
    if k == 0 {
        return;
    }
    for w in svd.s.windows(2) {
        assert!(
            w[0] >= w[1],
            "singular values not non-increasing: {:?}",
            svd.s
        );
    }
    assert!(svd.s[k - 1] >= 0.0);
    let mut us = svd.u.clone();
    for (j, &sj) in svd.s.iter().enumerate() {
        us.column_mut(j).mapv_inplace(|x| x * sj);
    }
    let recon = naive_mm(us.view(), svd.vt.view());
    assert_abs_diff_eq!(rel_diff(recon.view(), a), 0.0, epsilon = tol);
    assert_abs_diff_eq!(orth_err(svd.u.view()), 0.0, epsilon = ORTH_TOL);
    assert_abs_diff_eq!(orth_err(svd.vt.t()), 0.0, epsilon = ORTH_TOL);
    check_svd_signs(svd);
}

/// The module's convention: the largest-magnitude entry of each left singular vector is positive.
fn check_svd_signs(svd: &Svd) {
    for (j, col) in svd.u.columns().into_iter().enumerate() {
        let big = col
            .iter()
            .fold(0.0f64, |b, &x| if x.abs() > b.abs() { x } else { b });
        assert!(
            big > 0.0,
            "left singular vector {j} has its largest entry {big} <= 0"
        );
    }
}

// ---------------------------------------------------------------- backend

#[test]
fn backend_name_matches_feature() {
    let expected = if cfg!(feature = "lapack") {
        "lapack"
    } else {
        "faer"
    };
    assert_eq!(BACKEND, expected);
}

// ---------------------------------------------------------------- QR

#[test]
fn qr_reconstructs_with_orthonormal_q_and_nonnegative_diag() {
    let mut rng = rng(1);
    for &(m, n) in &[(50, 7), (9, 9), (5, 12), (1, 1), (1, 5), (5, 1), (200, 40)] {
        let a = randn(m, n, &mut rng);
        for (name, a) in layouts(&a) {
            let (q, r) = qr_thin(a.view()).unwrap_or_else(|e| panic!("{m}x{n} {name}: {e}"));
            check_qr(a.view(), &q, &r);
        }
    }
}

#[test]
fn qr_same_result_for_every_input_layout() {
    let mut rng = rng(2);
    let big = randn(41, 24, &mut rng);
    // strided rows and columns, a transposed view, and their F-order copies
    let strided = big.slice(s![..;2, 1..;2]).to_owned(); // 21 x 12
    let (q0, r0) = qr_thin(strided.view()).expect("qr");
    for view in [big.slice(s![..;2, 1..;2]), layouts(&strided)[1].1.view()] {
        let (q, r) = qr_thin(view).expect("qr");
        assert_abs_diff_eq!(max_abs_diff(q.view(), q0.view()), 0.0, epsilon = QR_TOL);
        assert_abs_diff_eq!(
            max_abs_diff(r.view(), r0.view()),
            0.0,
            epsilon = QR_TOL * fro(big.view())
        );
    }
    // a wide transposed view
    let (q, r) = qr_thin(strided.t()).expect("qr");
    check_qr(strided.t(), &q, &r);
}

#[test]
fn qr_rank_deficient_still_orthonormal() {
    let mut rng = rng(3);
    let mut a = randn(30, 6, &mut rng);
    a.column_mut(2).fill(0.0);
    let c0 = a.column(0).to_owned();
    a.column_mut(4).assign(&(&c0 * 3.0));
    let (q, r) = qr_thin(a.view()).expect("qr");
    check_qr(a.view(), &q, &r);
}

// ---------------------------------------------------------------- SVD

#[test]
fn svd_recovers_known_spectrum_tall_and_wide() {
    let mut rng = rng(4);
    let spectrum = [10.0, 5.0, 2.0, 1.0, 0.5, 1e-3];
    for &(m, n) in &[(40, 6), (6, 40), (6, 6), (25, 9), (9, 25)] {
        let k = m.min(n);
        let mut s_true = spectrum.to_vec();
        s_true.resize(k, 0.0);
        let a = with_spectrum(m, n, &s_true, &mut rng);
        for (name, a) in layouts(&a) {
            let svd = svd_thin(a.view()).unwrap_or_else(|e| panic!("{m}x{n} {name}: {e}"));
            check_svd(a.view(), &svd, SVD_TOL);
            for (got, want) in svd.s.iter().zip(&s_true) {
                assert_abs_diff_eq!(*got, *want, epsilon = 1e-12 * spectrum[0]);
            }
        }
    }
}

#[test]
fn svd_graded_spectrum_within_tolerance() {
    // s_i from 1 down to 1e-15: the case where faer's backward error reaches 8.5e-13 (LINALG.md §4)
    let mut rng = rng(5);
    for case in 0..5 {
        let (m, n) = [(60, 30), (30, 60), (45, 45), (80, 20), (20, 20)][case];
        let k = m.min(n);
        let s_true: Vec<f64> = (0..k)
            .map(|i| 10f64.powf(-15.0 * i as f64 / (k - 1) as f64))
            .collect();
        let a = with_spectrum(m, n, &s_true, &mut rng);
        let svd = svd_thin(a.view()).expect("svd");
        check_svd(a.view(), &svd, SVD_TOL);
        // the leading singular values are resolved to ~eps relative to s_0 = 1
        for (got, want) in svd.s.iter().zip(&s_true) {
            assert_abs_diff_eq!(*got, *want, epsilon = 1e-12);
        }
    }
}

#[test]
fn svd_rank_deficient_has_orthonormal_null_space() {
    let mut rng = rng(6);
    let a = naive_mm(randn(50, 4, &mut rng).view(), randn(4, 20, &mut rng).view());
    let svd = svd_thin(a.view()).expect("svd");
    check_svd(a.view(), &svd, SVD_TOL);
    for &x in svd.s.slice(s![4..]).iter() {
        assert!(x <= 1e-13 * svd.s[0], "tail singular value {x} for rank 4");
    }
}

#[test]
fn svd_same_factors_for_every_layout() {
    // distinct singular values: with the sign convention the factors are unique
    let mut rng = rng(7);
    let base = with_spectrum(
        30,
        12,
        &[9.0, 7.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.4, 0.1],
        &mut rng,
    );
    let ref_svd = svd_thin(base.view()).expect("svd");
    let f = layouts(&base)[1].1.clone();
    let mut padded = Array2::zeros((60, 24));
    padded.slice_mut(s![..;2, ..;2]).assign(&base);
    for (name, view) in [
        ("F-order", f.view()),
        ("strided", padded.slice(s![..;2, ..;2])),
    ] {
        let svd = svd_thin(view).expect("svd");
        assert_abs_diff_eq!(
            max_abs_diff(svd.u.view(), ref_svd.u.view()),
            0.0,
            epsilon = 1e-12
        );
        assert_abs_diff_eq!(
            max_abs_diff(svd.vt.view(), ref_svd.vt.view()),
            0.0,
            epsilon = 1e-12
        );
        let ds = (&svd.s - &ref_svd.s)
            .mapv(f64::abs)
            .fold(0.0, |a: f64, &b| a.max(b));
        assert!(ds <= 1e-12 * 9.0, "{name}: singular values differ by {ds}");
    }
    // the transpose: s equal, U and V swap roles (up to the sign convention on each side)
    let svd_t = svd_thin(base.t()).expect("svd");
    check_svd(base.t(), &svd_t, SVD_TOL);
    for (a, b) in svd_t.s.iter().zip(ref_svd.s.iter()) {
        assert_relative_eq!(*a, *b, max_relative = 1e-12);
    }
}

#[test]
fn svd_truncate_keeps_leading_triplets() {
    let mut rng = rng(8);
    let a = randn(10, 7, &mut rng);
    let svd = svd_thin(a.view()).expect("svd");
    let t = svd.clone().truncate(3);
    assert_eq!((t.u.dim(), t.s.len(), t.vt.dim()), ((10, 3), 3, (3, 7)));
    assert_eq!(t.s, svd.s.slice(s![..3]));
    assert_eq!(t.u, svd.u.slice(s![.., ..3]));
    let all = svd.clone().truncate(100);
    assert_eq!(all.s.len(), 7);
    let none = svd.truncate(0);
    assert_eq!(
        (none.u.dim(), none.s.len(), none.vt.dim()),
        ((10, 0), 0, (0, 7))
    );
}

// ---------------------------------------------------------------- truncation_rank

#[test]
fn truncation_rank_edge_cases() {
    // empty spectrum: nothing to keep
    assert_eq!(truncation_rank(&[], None, 1.0), 0);
    assert_eq!(truncation_rank(&[], Some(3), 0.0), 0);
    // zero tolerance keeps every non-zero value, drops exact zeros
    assert_eq!(truncation_rank(&[3.0, 2.0, 1.0], None, 0.0), 3);
    assert_eq!(truncation_rank(&[3.0, 2.0, 0.0, 0.0], None, 0.0), 2);
    // a negative tolerance acts as zero
    assert_eq!(truncation_rank(&[3.0, 2.0, 1.0], None, -1.0), 3);
    // at least one value survives: all-zero spectrum, huge or infinite tolerance
    assert_eq!(truncation_rank(&[0.0, 0.0], None, 0.0), 1);
    assert_eq!(truncation_rank(&[4.0, 3.0], None, 100.0), 1);
    assert_eq!(truncation_rank(&[4.0, 3.0], None, f64::INFINITY), 1);
    // s = [4, 3, 2, 1]: tail sums of squares 1, 5, 14, 30 from the end
    let s = [4.0, 3.0, 2.0, 1.0];
    assert_eq!(truncation_rank(&s, None, 0.99), 4);
    assert_eq!(truncation_rank(&s, None, 1.0), 3); // tail^2 = 1 <= 1
    assert_eq!(truncation_rank(&s, None, 2.2), 3); // 4.84 < 5
    assert_eq!(truncation_rank(&s, None, 2.3), 2); // 5.29 >= 5
    assert_eq!(truncation_rank(&s, None, 3.8), 1); // 14.44 >= 14
    assert_eq!(truncation_rank(&s, None, 5.5), 1); // 30.25 >= 30, but at least 1
                                                   // the cap
    assert_eq!(truncation_rank(&s, Some(2), 0.0), 2);
    assert_eq!(truncation_rank(&s, Some(10), 0.0), 4);
    assert_eq!(truncation_rank(&s, Some(3), 2.3), 2);
    assert_eq!(truncation_rank(&s, Some(0), 0.0), 1); // a cap of 0 still keeps one
                                                      // a NaN tolerance must not panic and must keep a valid rank
    let k = truncation_rank(&s, None, f64::NAN);
    assert!((1..=4).contains(&k));
}

// ---------------------------------------------------------------- eigh

#[test]
fn eigh_of_constructed_matrix() {
    let mut rng = rng(9);
    let n = 12;
    let lam_true = [
        -3.0, -1.0, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 2.0, 4.0, 7.5, 10.0,
    ];
    let w_true = rand_orth(n, n, &mut rng);
    let mut wl = w_true.clone();
    for (j, &l) in lam_true.iter().enumerate() {
        wl.column_mut(j).mapv_inplace(|x| x * l);
    }
    let a = naive_mm(wl.view(), w_true.t());
    let a = (&a + &a.t()) * 0.5; // exactly symmetric
    for (name, a) in layouts(&a) {
        let (lam, w) = eigh(a.view()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(lam.len(), n);
        assert_eq!(w.dim(), (n, n));
        for (got, want) in lam.iter().zip(&lam_true) {
            assert_abs_diff_eq!(*got, *want, epsilon = 1e-12 * 10.0);
        }
        assert_abs_diff_eq!(orth_err(w.view()), 0.0, epsilon = ORTH_TOL);
        // A W = W diag(lambda)
        let aw = naive_mm(a.view(), w.view());
        let mut wl = w.clone();
        for (j, &l) in lam.iter().enumerate() {
            wl.column_mut(j).mapv_inplace(|x| x * l);
        }
        assert_abs_diff_eq!(
            max_abs_diff(aw.view(), wl.view()),
            0.0,
            epsilon = 1e-12 * 10.0
        );
    }
}

#[test]
fn eigh_reads_only_the_lower_triangle() {
    let mut rng = rng(10);
    let b = randn(8, 8, &mut rng);
    let sym = &b + &b.t();
    let (lam0, _) = eigh(sym.view()).expect("eigh");
    let mut junk = sym.clone();
    for i in 0..8 {
        for j in i + 1..8 {
            junk[[i, j]] = 1e3 * (i + j) as f64;
        }
    }
    for (name, a) in layouts(&junk) {
        let (lam, _) = eigh(a.view()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = (&lam - &lam0)
            .mapv(f64::abs)
            .fold(0.0, |a: f64, &b| a.max(b));
        assert!(d <= 1e-12 * 20.0, "{name}: eigenvalues moved by {d}");
    }
}

#[test]
fn eigh_rejects_non_square() {
    assert!(matches!(
        eigh(Array2::zeros((3, 2)).view()),
        Err(LinalgError::Shape { .. })
    ));
}

// ---------------------------------------------------------------- Cholesky

fn spd(n: usize, rng: &mut StdRng) -> Array2<f64> {
    let b = randn(n + 3, n, rng);
    naive_mm(b.t(), b.view()) + Array2::<f64>::eye(n)
}

#[test]
fn cholesky_solve_with_shift() {
    let mut rng = rng(11);
    let n = 15;
    let a = spd(n, &mut rng);
    let shift = 0.5;
    let shifted = &a + &(Array2::<f64>::eye(n) * shift);
    for (name, a_in) in layouts(&a) {
        let ch = Cholesky::new(a_in.view(), shift).unwrap_or_else(|e| panic!("{name}: {e}"));
        let l = ch.factor();
        assert_eq!(l.dim(), (n, n));
        for i in 0..n {
            assert!(l[[i, i]] > 0.0, "{name}: L[{i},{i}] = {}", l[[i, i]]);
            for j in i + 1..n {
                assert_eq!(
                    l[[i, j]],
                    0.0,
                    "{name}: L not lower triangular at ({i},{j})"
                );
            }
        }
        let llt = naive_mm(l.view(), l.t());
        assert_abs_diff_eq!(rel_diff(llt.view(), shifted.view()), 0.0, epsilon = 1e-13);

        let b = randn(n, 4, &mut rng);
        let mut x = b.clone();
        ch.solve_in_place(x.view_mut()).expect("solve");
        let resid = naive_mm(shifted.view(), x.view());
        assert_abs_diff_eq!(rel_diff(resid.view(), b.view()), 0.0, epsilon = 1e-12);

        // a non-contiguous right-hand side (a transposed view) and the vector form
        let mut bt = b.t().to_owned();
        ch.solve_in_place(bt.view_mut().reversed_axes())
            .expect("solve");
        assert_abs_diff_eq!(max_abs_diff(bt.t(), x.view()), 0.0, epsilon = 1e-12);
        let xv = ch.solve_vec(&b.column(0).to_owned()).expect("solve_vec");
        let xc = x.column(0).to_owned();
        assert_abs_diff_eq!((&xv - &xc).mapv(f64::abs).sum(), 0.0, epsilon = 1e-12);
    }
}

#[test]
fn cholesky_reads_only_the_lower_triangle() {
    let mut rng = rng(12);
    let a = spd(6, &mut rng);
    let l0 = Cholesky::new(a.view(), 0.0).expect("chol").factor().clone();
    let mut junk = a.clone();
    for i in 0..6 {
        for j in i + 1..6 {
            junk[[i, j]] = -1e4;
        }
    }
    for (name, a) in layouts(&junk) {
        let l = Cholesky::new(a.view(), 0.0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_abs_diff_eq!(
            max_abs_diff(l.factor().view(), l0.view()),
            0.0,
            epsilon = 1e-12
        );
    }
}

#[test]
fn cholesky_not_positive_definite() {
    // the first non-positive pivot is at index 2 (0-based) in both backends
    let a = Array2::from_diag(&array![1.0, 2.0, -1.0, 4.0]);
    for (name, a) in layouts(&a) {
        match Cholesky::new(a.view(), 0.0) {
            Err(LinalgError::NotPositiveDefinite { pivot }) => assert_eq!(pivot, 2, "{name}"),
            other => panic!("{name}: expected NotPositiveDefinite, got {other:?}"),
        }
    }
    // a singular matrix: pivot 0 is zero
    assert!(matches!(
        Cholesky::new(Array2::zeros((3, 3)).view(), 0.0),
        Err(LinalgError::NotPositiveDefinite { pivot: 0 })
    ));
    // the shift repairs it
    let ch = Cholesky::new(a.view(), 1.5).expect("shifted matrix is SPD");
    assert_abs_diff_eq!(ch.factor()[[2, 2]], 0.5f64.sqrt(), epsilon = 1e-15);
    // the message suggests the fix
    let msg = LinalgError::NotPositiveDefinite { pivot: 2 }.to_string();
    assert!(msg.contains("shift"));
}

#[test]
fn cholesky_shape_errors() {
    assert!(matches!(
        Cholesky::new(Array2::zeros((3, 4)).view(), 0.0),
        Err(LinalgError::Shape { .. })
    ));
    let ch = Cholesky::new(Array2::<f64>::eye(3).view(), 0.0).expect("identity");
    let mut b = Array2::zeros((4, 2));
    assert!(matches!(
        ch.solve_in_place(b.view_mut()),
        Err(LinalgError::Shape { .. })
    ));
    assert!(ch.solve_vec(&Array1::zeros(2)).is_err());
}

// ---------------------------------------------------------------- least squares

#[test]
fn lstsq_matches_normal_equations() {
    let mut rng = rng(13);
    for &(m, n, p) in &[(30, 5, 3), (12, 12, 2), (100, 20, 1)] {
        let a = randn(m, n, &mut rng);
        let b = randn(m, p, &mut rng);
        for (name, a_in) in layouts(&a) {
            let x = lstsq(a_in.view(), b.view()).unwrap_or_else(|e| panic!("{m}x{n} {name}: {e}"));
            assert_eq!(x.dim(), (n, p));
            // normal equations A^T A X = A^T B, solved by an independent route
            let ata = naive_mm(a.t(), a.view());
            let mut x_ne = naive_mm(a.t(), b.view());
            Cholesky::new(ata.view(), 0.0)
                .expect("A^T A is SPD")
                .solve_in_place(x_ne.view_mut())
                .expect("solve");
            assert_abs_diff_eq!(rel_diff(x.view(), x_ne.view()), 0.0, epsilon = 1e-10);
            // the residual is orthogonal to range(A)
            let r = naive_mm(a.view(), x.view()) - &b;
            let atr = naive_mm(a.t(), r.view());
            assert_abs_diff_eq!(
                fro(atr.view()) / (fro(a.view()) * fro(b.view())),
                0.0,
                epsilon = 1e-12
            );
        }
    }
}

#[test]
fn lstsq_recovers_consistent_solution() {
    let mut rng = rng(14);
    let a = randn(40, 8, &mut rng);
    let x0 = randn(8, 3, &mut rng);
    let b = naive_mm(a.view(), x0.view());
    // B as a transposed (F-order) view
    let bt = b.t().to_owned();
    let x = lstsq(a.view(), bt.t()).expect("lstsq");
    assert_abs_diff_eq!(rel_diff(x.view(), x0.view()), 0.0, epsilon = 1e-12);
}

#[test]
fn lstsq_shape_errors() {
    let a = Array2::<f64>::zeros((3, 5));
    assert!(matches!(
        lstsq(a.view(), Array2::zeros((3, 1)).view()),
        Err(LinalgError::Shape { .. })
    ));
    let a = Array2::<f64>::eye(4);
    assert!(matches!(
        lstsq(a.view(), Array2::zeros((3, 1)).view()),
        Err(LinalgError::Shape { .. })
    ));
}

// ---------------------------------------------------------------- Householder

/// The full `Q` of a factorization, as `Q I`.
fn full_q(h: &Householder) -> Array2<f64> {
    let mut q = Array2::eye(h.nrows());
    h.apply_q(q.view_mut());
    q
}

#[test]
fn householder_q_orthogonal_and_complement() {
    let mut rng = rng(15);
    for &(m, n) in &[(20, 6), (9, 1), (33, 32)] {
        let a = randn(m, n, &mut rng);
        for (name, a_in) in layouts(&a) {
            let h = Householder::new(a_in.view()).unwrap_or_else(|e| panic!("{m}x{n} {name}: {e}"));
            assert_eq!((h.nrows(), h.ncols()), (m, n));
            let q = full_q(&h);
            assert_abs_diff_eq!(orth_err(q.view()), 0.0, epsilon = QR_TOL);
            assert_abs_diff_eq!(orth_err(q.t()), 0.0, epsilon = QR_TOL);

            // Q^T A = [R; 0]: the trailing m - n rows vanish
            let mut qta = a.clone();
            h.apply_qt(qta.view_mut());
            let tail = qta.slice(s![n.., ..]);
            assert_abs_diff_eq!(fro(tail) / fro(a.view()), 0.0, epsilon = QR_TOL);
            // and the leading n x n block is upper triangular
            for i in 0..n {
                for j in 0..i {
                    assert_abs_diff_eq!(qta[[i, j]] / fro(a.view()), 0.0, epsilon = QR_TOL);
                }
            }

            // apply_q undoes apply_qt
            let b = randn(m, 5, &mut rng);
            let mut c = b.clone();
            h.apply_qt(c.view_mut());
            h.apply_q(c.view_mut());
            assert_abs_diff_eq!(
                max_abs_diff(c.view(), b.view()),
                0.0,
                epsilon = QR_TOL * fro(b.view())
            );

            // the complement: m x (m - n), orthonormal, orthogonal to range(A), = Q[:, n..]
            let comp = h.complement();
            assert_eq!(comp.dim(), (m, m - n));
            assert_abs_diff_eq!(orth_err(comp.view()), 0.0, epsilon = QR_TOL);
            let atc = naive_mm(a.t(), comp.view());
            assert_abs_diff_eq!(fro(atc.view()) / fro(a.view()), 0.0, epsilon = QR_TOL);
            assert_abs_diff_eq!(
                max_abs_diff(comp.view(), q.slice(s![.., n..])),
                0.0,
                epsilon = 1e-15
            );
        }
    }
}

#[test]
fn householder_transposed_and_strided_operands() {
    let mut rng = rng(16);
    let a = randn(12, 4, &mut rng);
    let h = Householder::new(a.t().t()).expect("qr");
    let q = full_q(&h);
    // B as a transposed view, and a column-strided view of a larger array
    let b = randn(3, 12, &mut rng);
    let mut bt = b.clone();
    h.apply_qt(bt.view_mut().reversed_axes());
    let want = naive_mm(q.t(), b.t());
    assert_abs_diff_eq!(
        max_abs_diff(bt.t(), want.view()),
        0.0,
        epsilon = QR_TOL * 10.0
    );
    let mut wide = randn(12, 8, &mut rng);
    let orig = wide.clone();
    h.apply_q(wide.slice_mut(s![.., ..;2]));
    let want = naive_mm(q.view(), orig.slice(s![.., ..;2]));
    assert_abs_diff_eq!(
        max_abs_diff(wide.slice(s![.., ..;2]), want.view()),
        0.0,
        epsilon = QR_TOL * 10.0
    );
    // untouched columns stay untouched
    assert_eq!(wide.slice(s![.., 1..;2]), orig.slice(s![.., 1..;2]));
}

#[test]
fn householder_zero_columns_is_identity() {
    let mut rng = rng(17);
    let h = Householder::new(Array2::zeros((7, 0)).view()).expect("n = 0");
    assert_eq!((h.nrows(), h.ncols()), (7, 0));
    assert_eq!(h.complement(), Array2::<f64>::eye(7));
    let b = randn(7, 3, &mut rng);
    let mut c = b.clone();
    h.apply_qt(c.view_mut());
    assert_eq!(c, b);
    h.apply_q(c.view_mut());
    assert_eq!(c, b);
}

#[test]
fn householder_square_has_empty_complement() {
    let mut rng = rng(18);
    let a = randn(6, 6, &mut rng);
    let h = Householder::new(a.view()).expect("square");
    assert_eq!(h.complement().dim(), (6, 0));
    assert_abs_diff_eq!(orth_err(full_q(&h).view()), 0.0, epsilon = QR_TOL);
}

#[test]
fn householder_empty_and_errors() {
    let h = Householder::new(Array2::zeros((0, 0)).view()).expect("0 x 0");
    assert_eq!(h.complement().dim(), (0, 0));
    let mut b = Array2::<f64>::zeros((0, 3));
    h.apply_qt(b.view_mut());
    h.apply_q(b.view_mut());
    // B with no columns
    let h = Householder::new(Array2::<f64>::eye(5).slice(s![.., ..2])).expect("5 x 2");
    let mut b = Array2::<f64>::zeros((5, 0));
    h.apply_qt(b.view_mut());
    // wide input: no complement
    assert!(matches!(
        Householder::new(Array2::zeros((2, 3)).view()),
        Err(LinalgError::Shape { .. })
    ));
    assert!(matches!(
        Householder::new(Array2::zeros((0, 1)).view()),
        Err(LinalgError::Shape { .. })
    ));
}

#[test]
#[should_panic(expected = "rows")]
fn householder_apply_wrong_rows_panics() {
    let h = Householder::new(Array2::<f64>::eye(4).slice(s![.., ..2])).expect("4 x 2");
    let mut b = Array2::<f64>::zeros((3, 2));
    h.apply_qt(b.view_mut());
}

// ---------------------------------------------------------------- empty inputs

#[test]
fn empty_inputs_give_shaped_results() {
    for &(m, n) in &[(0, 4), (4, 0), (0, 0)] {
        let a = Array2::<f64>::zeros((m, n));
        for (name, a) in [
            ("C", a.clone()),
            ("F", Array2::zeros((m, n).f())),
            ("T", a.t().to_owned().reversed_axes()),
        ] {
            let (q, r) = qr_thin(a.view()).unwrap_or_else(|e| panic!("qr {m}x{n} {name}: {e}"));
            assert_eq!((q.dim(), r.dim()), ((m, 0), (0, n)), "qr {m}x{n} {name}");
            let svd = svd_thin(a.view()).unwrap_or_else(|e| panic!("svd {m}x{n} {name}: {e}"));
            assert_eq!(
                (svd.u.dim(), svd.s.len(), svd.vt.dim()),
                ((m, 0), 0, (0, n)),
                "svd {m}x{n}"
            );
            assert_eq!(svd.truncate(3).s.len(), 0);
            let g = gram(a.view(), Par::Seq).expect("gram");
            assert_eq!(g, Array2::<f64>::zeros((n, n)));
            let p = matmul(a.view(), a.t()).expect("matmul");
            assert_eq!(p, Array2::<f64>::zeros((m, m)));
        }
    }
    let (lam, w) = eigh(Array2::zeros((0, 0)).view()).expect("eigh 0x0");
    assert_eq!((lam.len(), w.dim()), (0, (0, 0)));
    let ch = Cholesky::new(Array2::zeros((0, 0)).view(), 1.0).expect("cholesky 0x0");
    assert_eq!(ch.factor().dim(), (0, 0));
    let mut b = Array2::<f64>::zeros((0, 3));
    ch.solve_in_place(b.view_mut()).expect("solve 0 x 3");
    assert_eq!(ch.solve_vec(&Array1::zeros(0)).expect("solve_vec").len(), 0);
    // a non-empty factor with an empty right-hand side
    let ch = Cholesky::new(Array2::<f64>::eye(3).view(), 0.0).expect("I");
    ch.solve_in_place(Array2::zeros((3, 0)).view_mut())
        .expect("solve 3 x 0");
    // least squares: n == 0, p == 0, m == n == 0
    assert_eq!(
        lstsq(Array2::zeros((5, 0)).view(), Array2::zeros((5, 2)).view()).expect("5x0"),
        Array2::<f64>::zeros((0, 2))
    );
    assert_eq!(
        lstsq(Array2::<f64>::eye(3).view(), Array2::zeros((3, 0)).view()).expect("p=0"),
        Array2::<f64>::zeros((3, 0))
    );
    assert_eq!(
        lstsq(Array2::zeros((0, 0)).view(), Array2::zeros((0, 2)).view()).expect("0x0"),
        Array2::<f64>::zeros((0, 2))
    );
}

// ---------------------------------------------------------------- non-finite input

#[test]
fn non_finite_input_is_an_error_not_a_panic() {
    let mut rng = rng(19);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut a = randn(8, 5, &mut rng);
        a[[3, 2]] = bad;
        assert!(qr_thin(a.view()).is_err(), "qr with {bad}");
        assert!(
            matches!(svd_thin(a.view()), Err(LinalgError::NoConvergence { .. })),
            "svd with {bad}"
        );
        assert!(svd_thin(a.t()).is_err(), "svd of the transpose with {bad}");
        assert!(
            Householder::new(a.view()).is_err(),
            "householder with {bad}"
        );
        let b = randn(8, 2, &mut rng);
        assert!(lstsq(a.view(), b.view()).is_err(), "lstsq with {bad} in A");
        let good = randn(8, 5, &mut rng);
        let mut b_bad = b.clone();
        b_bad[[1, 1]] = bad;
        assert!(
            lstsq(good.view(), b_bad.view()).is_err(),
            "lstsq with {bad} in B"
        );

        let mut s = spd(5, &mut rng);
        s[[3, 1]] = bad; // lower triangle
        assert!(eigh(s.view()).is_err(), "eigh with {bad}");
        assert!(Cholesky::new(s.view(), 0.0).is_err(), "cholesky with {bad}");
        assert!(
            Cholesky::new(spd(5, &mut rng).view(), bad).is_err(),
            "cholesky with shift {bad}"
        );
    }
}

// ---------------------------------------------------------------- GEMM

/// `syrk_lower` gives the lower triangle of `alpha A^T A + beta C` (against the triple loop,
/// error `<= c m eps ||A||^2`), never touches the strict upper triangle, and accepts
/// transposed views and empty inner dimension.
#[test]
fn syrk_lower_matches_the_lower_triangle_of_the_product() {
    let mut rng = rng(41);
    for &(m, n, alpha, beta) in &[
        (37usize, 13usize, 1.0, 0.0),
        (5, 40, -0.5, 1.0),
        (64, 64, 2.0, 0.25),
        (0, 6, 1.0, 3.0),
        (9, 1, 1.0, 0.0),
    ] {
        let a = randn(m, n, &mut rng);
        let c0 = randn(n, n, &mut rng);
        let want = naive_mm(a.t(), a.view()) * alpha + &c0 * beta;
        let mut c = c0.clone();
        syrk_lower(alpha, a.view(), beta, c.view_mut(), Par::Seq).expect("syrk");
        let tol = 1e-13 * (m.max(1) as f64) * fro(a.view()).powi(2).max(1.0);
        for i in 0..n {
            for j in 0..n {
                if j <= i {
                    assert_abs_diff_eq!(c[[i, j]], want[[i, j]], epsilon = tol);
                } else {
                    assert_eq!(c[[i, j]], c0[[i, j]], "upper ({i},{j}) touched");
                }
            }
        }
        // a transposed (column-major) A and a column-major C give the same lower triangle
        let at = a.t().to_owned();
        let mut cf =
            Array2::from_shape_vec((n, n).f(), c0.t().iter().copied().collect()).expect("shape");
        syrk_lower(alpha, at.t(), beta, cf.view_mut(), Par::Seq).expect("syrk");
        for i in 0..n {
            for j in 0..=i {
                assert_abs_diff_eq!(cf[[i, j]], want[[i, j]], epsilon = tol);
            }
        }
        mirror_lower(c.view_mut());
        assert_eq!(c, c.t());
    }
    let a = randn(4, 3, &mut rng);
    let mut bad = Array2::zeros((4, 4));
    assert!(syrk_lower(1.0, a.view(), 0.0, bad.view_mut(), Par::Seq).is_err());
}

#[test]
fn gemm_alpha_beta() {
    let mut rng = rng(20);
    let a = randn(7, 5, &mut rng);
    let b = randn(5, 4, &mut rng);
    let c0 = randn(7, 4, &mut rng);
    let ab = naive_mm(a.view(), b.view());
    for &(alpha, beta) in &[(1.0, 0.0), (2.5, 1.0), (-1.0, 0.5), (0.0, 3.0), (0.7, -2.0)] {
        let mut c = c0.clone();
        gemm(alpha, a.view(), b.view(), beta, c.view_mut(), Par::Seq).expect("gemm");
        let want = &ab * alpha + &c0 * beta;
        assert_abs_diff_eq!(max_abs_diff(c.view(), want.view()), 0.0, epsilon = 1e-13);
    }
    // beta == 0 ignores NaN in C
    let mut c = Array2::from_elem((7, 4), f64::NAN);
    gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq).expect("gemm");
    assert_abs_diff_eq!(max_abs_diff(c.view(), ab.view()), 0.0, epsilon = 1e-13);
}

#[test]
fn gemm_transposed_and_strided_views() {
    let mut rng = rng(21);
    let at = randn(5, 7, &mut rng); // A = at^T, 7 x 5
    let bt = randn(4, 5, &mut rng); // B = bt^T, 5 x 4
    let want = naive_mm(at.t(), bt.t());
    // C as an F-order (transposed) view
    let mut ct = Array2::<f64>::zeros((4, 7));
    gemm(
        1.0,
        at.t(),
        bt.t(),
        0.0,
        ct.view_mut().reversed_axes(),
        Par::Seq,
    )
    .expect("gemm");
    assert_abs_diff_eq!(max_abs_diff(ct.t(), want.view()), 0.0, epsilon = 1e-13);
    // strided rows/columns of larger arrays, negative strides too
    let big_a = randn(14, 10, &mut rng);
    let big_b = randn(10, 12, &mut rng);
    let va = big_a.slice(s![..;2, ..;2]); // 7 x 5
    let vb = big_b.slice(s![..;-2, 1..;3]); // 5 x 4
    let mut big_c = Array2::<f64>::zeros((14, 8));
    gemm(1.0, va, vb, 0.0, big_c.slice_mut(s![1..;2, ..;2]), Par::Seq).expect("gemm");
    let want = naive_mm(va, vb);
    assert_abs_diff_eq!(
        max_abs_diff(big_c.slice(s![1..;2, ..;2]), want.view()),
        0.0,
        epsilon = 1e-13
    );
    assert_eq!(
        fro(big_c.slice(s![..;2, ..])),
        0.0,
        "rows outside the view were written"
    );
    // matmul and gram agree with the reference
    assert_abs_diff_eq!(
        max_abs_diff(matmul(va, vb).expect("matmul").view(), want.view()),
        0.0,
        epsilon = 1e-13
    );
    let g = gram(va, Par::Seq).expect("gram");
    assert_abs_diff_eq!(
        max_abs_diff(g.view(), naive_mm(va.t(), va).view()),
        0.0,
        epsilon = 1e-13
    );
}

#[test]
fn gemm_parallel_matches_sequential() {
    let mut rng = rng(22);
    let a = randn(120, 64, &mut rng);
    let b = randn(64, 90, &mut rng);
    let mut c1 = Array2::zeros((120, 90));
    let mut c2 = Array2::zeros((120, 90));
    gemm(1.0, a.view(), b.view(), 0.0, c1.view_mut(), Par::Seq).expect("seq");
    gemm(1.0, a.view(), b.view(), 0.0, c2.view_mut(), Par::Rayon(2)).expect("rayon");
    assert_abs_diff_eq!(max_abs_diff(c1.view(), c2.view()), 0.0, epsilon = 1e-12);
}

#[test]
fn gemm_inner_dimension_zero_scales_c() {
    let a = Array2::<f64>::zeros((3, 0));
    let b = Array2::<f64>::zeros((0, 2));
    let mut c = Array2::from_elem((3, 2), 2.0);
    gemm(1.0, a.view(), b.view(), 0.5, c.view_mut(), Par::Seq).expect("k = 0");
    assert_eq!(c, Array2::from_elem((3, 2), 1.0));
    let mut c = Array2::from_elem((3, 2), f64::NAN);
    gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq).expect("k = 0");
    assert_eq!(c, Array2::<f64>::zeros((3, 2)));
}

#[test]
fn gemm_shape_mismatch_is_an_error() {
    let a = Array2::<f64>::zeros((3, 4));
    let b = Array2::<f64>::zeros((5, 2));
    let mut c = Array2::<f64>::zeros((3, 2));
    match gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq) {
        Err(LinalgError::Shape { op, detail }) => {
            assert_eq!(op, "gemm");
            assert!(detail.contains("3x4") && detail.contains("5x2"), "{detail}");
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    let b = Array2::<f64>::zeros((4, 2));
    let mut c = Array2::<f64>::zeros((3, 3));
    assert!(matches!(
        gemm(1.0, a.view(), b.view(), 0.0, c.view_mut(), Par::Seq),
        Err(LinalgError::Shape { .. })
    ));
    assert!(matmul(a.view(), a.view()).is_err());
}

// ---------------------------------------------------------------- property tests

fn prop_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x7717),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random shapes up to 40 x 40, zero sizes included, a layout flag, a data seed, and a rank cap
/// (low-rank inputs exercise the null spaces).
fn shapes() -> impl Strategy<Value = (usize, usize, bool, u64, usize)> {
    (
        0usize..40,
        0usize..40,
        any::<bool>(),
        any::<u64>(),
        1usize..40,
    )
}

fn prop_matrix(m: usize, n: usize, f_order: bool, seed: u64, rank: usize) -> Array2<f64> {
    let mut rng = rng(seed);
    let a = if rank < m.min(n) {
        naive_mm(
            randn(m, rank, &mut rng).view(),
            randn(rank, n, &mut rng).view(),
        )
    } else {
        randn(m, n, &mut rng)
    };
    if f_order {
        let mut f = Array2::zeros((m, n).f());
        f.assign(&a);
        f
    } else {
        a
    }
}

proptest! {
    #![proptest_config(prop_config())]

    #[test]
    fn prop_qr_reconstructs((m, n, f, seed, rank) in shapes()) {
        let a = prop_matrix(m, n, f, seed, rank);
        let (q, r) = qr_thin(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_qr(a.view(), &q, &r);
    }

    #[test]
    fn prop_svd_reconstructs((m, n, f, seed, rank) in shapes()) {
        let a = prop_matrix(m, n, f, seed, rank);
        let svd = svd_thin(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_svd(a.view(), &svd, SVD_TOL);
        let k = m.min(n);
        if rank < k {
            let s0 = svd.s[0];
            for &x in svd.s.slice(s![rank..]).iter() {
                prop_assert!(x <= 1e-12 * s0, "rank {} but s = {:?}", rank, svd.s);
            }
        }
    }

    #[test]
    fn prop_householder_complement((m, extra, f, seed, _rank) in shapes()) {
        let n = m.saturating_sub(extra % (m + 1));
        let a = prop_matrix(m, n, f, seed, 40);
        let h = Householder::new(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let comp = h.complement();
        prop_assert_eq!(comp.dim(), (m, m - n));
        prop_assert!(orth_err(comp.view()) <= QR_TOL);
        if n > 0 && m > n {
            let atc = naive_mm(a.t(), comp.view());
            prop_assert!(fro(atc.view()) <= QR_TOL * fro(a.view()));
        }
    }
}

/// Tall shapes with a prescribed spectrum for the Gram truncation: `n` columns, `m >= n` rows,
/// a cut `r < n`, the leading `r` singular values in `[10^-spread, 1]`, the trailing ones at most
/// `ratio` times `sigma_r` (a gap of `1 - ratio`), and a data seed.
fn gram_cases() -> impl Strategy<Value = (usize, usize, usize, f64, f64, u64)> {
    (
        2usize..=40,
        0usize..=80,
        any::<u64>(),
        0.0f64..3.0,
        0.0f64..0.999,
    )
        .prop_flat_map(|(n, extra, seed, spread, ratio)| {
            (
                Just(n),
                Just(n + extra),
                1..n,
                Just(spread),
                Just(ratio),
                Just(seed),
            )
        })
}

proptest! {
    #![proptest_config(prop_config())]

    /// `truncate_by_gram` equals the SVD truncation `U_r S_r V_r^T` to its documented bound
    /// `2 sin(theta) ||A||`, `sin(theta) <= c u ||A||_F^2 / gap` (checked with `c = 50`, plus the
    /// SVD's own `SVD_TOL`), with an orthonormal `U`; it declines exactly when the gap test fails,
    /// and it never declines a gap ten times wider than its threshold.
    #[test]
    fn prop_gram_truncation_matches_svd((n, m, r, spread, ratio, seed) in gram_cases()) {
        let mut g = rng(seed);
        let mut s: Vec<f64> = (0..n)
            .map(|i| {
                if i < r {
                    10f64.powf(-spread * g.random::<f64>())
                } else {
                    g.random::<f64>()
                }
            })
            .collect();
        let (head, tail) = s.split_at_mut(r);
        head.sort_by(|a, b| b.partial_cmp(a).unwrap());
        let sr = head[r - 1];
        for x in tail.iter_mut() {
            *x *= ratio * sr;
        }
        tail.sort_by(|a, b| b.partial_cmp(a).unwrap());
        let a = with_spectrum(m, n, &s, &mut g);
        let nrm2: f64 = s.iter().map(|x| x * x).sum();
        let gap = s[r - 1].powi(2) - s[r].powi(2);
        let bound = f64::EPSILON * nrm2 / gap;
        let out = truncate_by_gram(a.view(), r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if bound <= 0.1 * GRAM_GAP_TOL {
            prop_assert!(out.is_some(), "declined a wide gap: bound {:e}", bound);
        }
        if let Some(t) = out {
            prop_assert_eq!(t.u.dim(), (m, r));
            prop_assert_eq!(t.c.dim(), (r, n));
            prop_assert!(orth_err(t.u.view()) <= ORTH_TOL);
            let svd = svd_thin(a.view()).unwrap().truncate(r);
            let mut us = svd.u.clone();
            for (j, &sj) in svd.s.iter().enumerate() {
                us.column_mut(j).mapv_inplace(|x| x * sj);
            }
            let ar = naive_mm(us.view(), svd.vt.view());
            let uc = naive_mm(t.u.view(), t.c.view());
            let err = fro((&uc - &ar).view());
            prop_assert!(
                err <= (100.0 * bound + SVD_TOL) * s[0],
                "err {:e}, bound {:e}, gap {:e}", err, bound, gap
            );
            for (i, &si) in s.iter().enumerate() {
                prop_assert!((t.s[i].powi(2) - si * si).abs() <= 50.0 * f64::EPSILON * nrm2);
            }
        }
    }
}

/// A near-tie at the cut (`sigma_r / sigma_{r+1} = 1 + 1e-9`) is declined: the Gram matrix cannot
/// separate the subspaces there, and the caller must use the SVD.
#[test]
fn gram_truncation_declines_a_narrow_gap() {
    let mut g = rng(5);
    let s = [1.0, 0.5, 0.3, 0.3 / (1.0 + 1e-9), 0.1];
    let a = with_spectrum(30, 5, &s, &mut g);
    assert!(truncate_by_gram(a.view(), 3).unwrap().is_none());
    assert!(truncate_by_gram(a.view(), 2).unwrap().is_some());
    // out of its domain: r >= n, wide matrices, r = 0
    assert!(truncate_by_gram(a.view(), 5).unwrap().is_none());
    assert!(truncate_by_gram(a.t(), 2).unwrap().is_none());
    assert!(truncate_by_gram(a.view(), 0).unwrap().is_none());
}
