//! Issue 12 (PDE residuals): the two-state evaluation of
//! `L v = sum_k (-a_k d_k^2 + b_k d_k) v + kappa v` and its tangent Jacobian (MATH.md §8, §9.15)
//! against a dense computation and finite differences.

mod common;

use common::*;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::interfaces::values;
use tensor_train::linalg::Par;
use tensor_train::operator::{
    derivative_values, modified_features, OperatorFeatures, OperatorLinearization,
};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

/// Monomial features `x^j` (order 0), `j x^(j-1)` (1), `j (j-1) x^(j-2)` (2) at the points.
fn monomials(x: &[f64], n: usize, order: usize) -> Array2<f64> {
    Array2::from_shape_fn((x.len(), n), |(i, j)| {
        let t = x[i];
        match order {
            0 => t.powi(j as i32),
            1 if j >= 1 => j as f64 * t.powi(j as i32 - 1),
            2 if j >= 2 => (j * (j - 1)) as f64 * t.powi(j as i32 - 2),
            _ => 0.0,
        }
    })
}

struct Problem {
    points: Array2<f64>,
    phi: Vec<Array2<f64>>,
    chi: Vec<Array2<f64>>,
    a: Array2<f64>,
    b: Array2<f64>,
    kappa: Array1<f64>,
}

fn problem(sizes: &[usize], n_points: usize, rng: &mut StdRng) -> Problem {
    let d = sizes.len();
    let points = Array2::from_shape_fn((n_points, d), |_| rng.random_range(-1.0..1.0));
    let a = Array2::from_shape_fn((n_points, d), |_| rng.random_range(0.1..2.0));
    let b = Array2::from_shape_fn((n_points, d), |_| rng.random_range(-1.0..1.0));
    let kappa = Array1::from_shape_fn(n_points, |_| rng.random_range(-1.0..1.0));
    let mut phi = Vec::new();
    let mut chi = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let x = points.column(k).to_vec();
        phi.push(monomials(&x, n, 0));
        let d1 = monomials(&x, n, 1);
        let d2 = monomials(&x, n, 2);
        chi.push(modified_features(d2.view(), d1.view(), a.column(k), b.column(k)).unwrap());
    }
    Problem {
        points,
        phi,
        chi,
        a,
        b,
        kappa,
    }
}

impl Problem {
    fn features(&self, tt: &tensor_train::TensorTrain) -> OperatorFeatures<'_> {
        OperatorFeatures::new(tt, views(&self.phi), views(&self.chi), self.kappa.view()).unwrap()
    }

    /// Dense `Phi^L(x^i) = sum_k phi_1 (x) .. chi_k .. (x) phi_d + kappa_i Phi(x^i)`.
    fn dense_operator_row(&self, i: usize) -> Array1<f64> {
        let d = self.phi.len();
        let mut row = kron_row(&self.phi, i, 0..d) * self.kappa[i];
        for k in 0..d {
            let mut f = self.phi.clone();
            f[k] = self.chi[k].clone();
            row += &kron_row(&f, i, 0..d);
        }
        row
    }
}

proptest! {
    #![proptest_config(config(24, 0x5eed_0120))]

    /// Two-state evaluation equals the dense `<X, Phi^L(x^i)>`; `J` (rows), `J c` and `J^T w` of
    /// the residual map equal the dense `Phi^L(x^i)^T E_X`, also at `d = 1` and with empty
    /// blocks (full-rank unfoldings).
    #[test]
    fn operator_matches_dense(shape in shapes(1, 4, 4, 3, 256), n_points in 1usize..30) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let pb = problem(&shape.sizes, n_points, &mut rng);
        let of = pb.features(&x);
        let xd = dense(&x);
        let (vals, deriv) = derivative_values(&x, &of).unwrap();
        let ts = TangentSpace::new(&x).unwrap();
        let fv = views(&pb.phi);
        let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
        let lin = OperatorLinearization::new(&ts, &si, of.clone()).unwrap();
        let opv = lin.operator_values();
        let e = ts.basis_dense().unwrap();
        let j = lin.jacobian().unwrap();
        let scale_x = norm(xd.view());
        for i in 0..n_points {
            let row = pb.dense_operator_row(i);
            let want = row.dot(&xd);
            let tol = 1e-12 * norm(row.view()) * scale_x + 1e-300;
            prop_assert!((opv[i] - want).abs() <= tol, "L v at point {i}: {} vs {want}", opv[i]);
            prop_assert!((deriv[i] + pb.kappa[i] * vals[i] - want).abs() <= tol);
            let jrow = e.t().dot(&row);
            prop_assert!(max_abs((&j.row(i) - &jrow).iter().cloned()) <= 1e-12 * norm(row.view()) + 1e-300, "row {i}");
        }
        let c = gaussian_vec(ts.dim(), &mut rng);
        let jc = lin.jvp(c.view()).unwrap();
        prop_assert!(rel_err(jc.view(), j.dot(&c).view()) <= 1e-11);
        let w = gaussian_vec(n_points, &mut rng);
        for par in [Par::Seq, Par::Rayon(0)] {
            let jtw = lin.vjp(w.view(), par).unwrap();
            prop_assert!(rel_err(jtw.view(), j.t().dot(&w).view()) <= 1e-11);
        }
    }
}

/// The two-state evaluation equals central finite differences of the TT's values:
/// `sum_k (-a_k (v(x+h e_k) - 2 v(x) + v(x-h e_k))/h^2 + b_k (v(x+h e_k) - v(x-h e_k))/(2h))`
/// with error `O(h^2)` (h = 1e-3: truncation ~1e-6 relative, rounding ~1e-16/h^2 = 1e-10).
#[test]
fn operator_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(12);
    let sizes = [4, 5, 3, 4];
    let x = random_tt(&sizes, &[2, 3, 2], &mut rng);
    let pb = problem(&sizes, 20, &mut rng);
    let of = pb.features(&x);
    let (v, deriv) = derivative_values(&x, &of).unwrap();
    let h = 1e-3;
    let eval_at = |pts: &Array2<f64>| {
        let f: Vec<Array2<f64>> = (0..sizes.len())
            .map(|k| monomials(&pts.column(k).to_vec(), sizes[k], 0))
            .collect();
        values(&x, &views(&f), Par::Seq).unwrap()
    };
    let mut fd: Array1<f64> = Array1::zeros(v.len());
    for k in 0..sizes.len() {
        let mut plus = pb.points.clone();
        let mut minus = pb.points.clone();
        plus.column_mut(k).mapv_inplace(|t| t + h);
        minus.column_mut(k).mapv_inplace(|t| t - h);
        let (vp, vm) = (eval_at(&plus), eval_at(&minus));
        for i in 0..v.len() {
            let d2 = (vp[i] - 2.0 * v[i] + vm[i]) / (h * h);
            let d1 = (vp[i] - vm[i]) / (2.0 * h);
            fd[i] += -pb.a[[i, k]] * d2 + pb.b[[i, k]] * d1;
        }
    }
    let scale = max_abs(deriv.iter().cloned()).max(1.0);
    for i in 0..v.len() {
        assert!(
            (deriv[i] - fd[i]).abs() <= 1e-5 * scale,
            "point {i}: {} vs {}",
            deriv[i],
            fd[i]
        );
    }
    // and the linearization at the same point gives the same operator values
    let ts = TangentSpace::new(&x).unwrap();
    let fv = views(&pb.phi);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let lin = OperatorLinearization::new(&ts, &si, pb.features(&x)).unwrap();
    let want = &deriv + &(&pb.kappa * &v);
    assert!(rel_err(lin.operator_values().view(), want.view()) <= 1e-12);
}

/// `J c` is the derivative of the residual map along the retraction: central differences
/// `(L R_X(t xi) - L R_X(-t xi)) / 2t -> J c` with `O(t^2)` error.
#[test]
fn operator_jvp_is_the_derivative_along_the_retraction() {
    let mut rng = StdRng::seed_from_u64(13);
    let sizes = [3, 4, 4];
    let x = random_tt(&sizes, &[2, 2], &mut rng);
    let pb = problem(&sizes, 15, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let fv = views(&pb.phi);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let lin = OperatorLinearization::new(&ts, &si, pb.features(&x)).unwrap();
    let c = gaussian_vec(ts.dim(), &mut rng);
    let xi = ts.from_coords(c.view()).unwrap();
    let jc = lin.jvp(c.view()).unwrap();
    let lv = |y: &tensor_train::TensorTrain| {
        let (v, dp) = derivative_values(y, &pb.features(y)).unwrap();
        dp + &(&pb.kappa * &v)
    };
    let errs: Vec<f64> = [1e-2, 1e-3]
        .iter()
        .map(|&t| {
            let yp = ts.retract(t, &xi).unwrap();
            let ym = ts.retract(-t, &xi).unwrap();
            let fd: Array1<f64> = (lv(&yp) - lv(&ym)) / (2.0 * t);
            rel_err(fd.view(), jc.view())
        })
        .collect();
    assert!(errs[1] < 1e-3, "{errs:?}");
    assert!(errs[1] < errs[0] / 30.0, "second order: {errs:?}");
}
