//! Issue "geometry": the sample Jacobian in tangent coordinates, `J c`, `J^T w`.

mod common;

use common::*;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor_train::interfaces::values;
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

proptest! {
    #![proptest_config(config(32, 0x5eed_0004))]

    /// `J c` equals the dense values `<E c, Phi(x^i)>`; the dense `jacobian` columns equal
    /// `jvp` of unit vectors; `J^T w` (vjp) equals the coordinates of `project_samples` and the
    /// dense `E^T sum_i w_i Phi(x^i)`.
    #[test]
    fn jacobian_products(shape in shapes(2, 6, 5, 4, 4096), n_samples in prop_oneof![1usize..40, 513usize..700]) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let dim = ts.dim();
        let feats = random_features(&shape.sizes, n_samples, &mut rng);
        let fv = views(&feats);
        let si = SampleInterfaces::new(&ts, &fv, Par::Rayon(0)).unwrap();
        prop_assert_eq!(si.n_samples(), n_samples);
        let e = ts.basis_dense().unwrap();
        // dense Jacobian: rows Phi(x^i)^T E (at most 50 rows checked densely)
        let j = ts.jacobian(&si, &fv, Par::Seq).unwrap();
        let jp = ts.jacobian(&si, &fv, Par::Rayon(0)).unwrap();
        prop_assert_eq!(j.dim(), (n_samples, dim));
        prop_assert!(max_abs((&j - &jp).iter().cloned()) <= 1e-14 * max_abs(j.iter().cloned()).max(1.0));
        let step = (n_samples / 50).max(1);
        for i in (0..n_samples).step_by(step) {
            let phi = kron_row(&feats, i, 0..shape.d());
            let want = e.t().dot(&phi);
            let got = j.row(i);
            prop_assert!(max_abs((&got - &want).iter().cloned()) <= 1e-12 * norm(phi.view()), "row {i}");
        }
        // J c
        let c = gaussian_vec(dim, &mut rng);
        let xi = ts.from_coords(c.view()).unwrap();
        let xid = dense(&ts.to_tt(&xi).unwrap());
        let jc_dense = dense_values(&xid, &feats);
        for par in [Par::Seq, Par::Rayon(0)] {
            let jc = ts.jvp(&si, &fv, c.view(), par).unwrap();
            let tv = ts.tangent_values(&si, &fv, &xi, par).unwrap();
            prop_assert_eq!(&jc, &tv);
            for i in 0..n_samples {
                let scale = norm(kron_row(&feats, i, 0..shape.d()).view()) * norm(c.view());
                prop_assert!((jc[i] - jc_dense[i]).abs() <= 1e-12 * scale);
            }
            prop_assert!(rel_err(jc.view(), j.dot(&c).view()) <= 1e-11 + 1e-12 * norm(c.view()) * max_abs(j.iter().cloned()) * (n_samples as f64).sqrt() / norm(jc.view()).max(1e-300));
        }
        // columns of J = jvp of unit vectors (a few of them)
        for col in (0..dim).step_by((dim / 12).max(1)) {
            let mut u = Array1::zeros(dim);
            u[col] = 1.0;
            let jcol = ts.jvp(&si, &fv, u.view(), Par::Seq).unwrap();
            prop_assert!(max_abs((&jcol - &j.column(col)).iter().cloned()) <= 1e-12 * max_abs(j.iter().cloned()).max(1.0));
        }
        // J^T w
        let w = gaussian_vec(n_samples, &mut rng);
        let want = ts.to_coords(&ts.project_samples(&si, &fv, w.view(), Par::Seq).unwrap()).unwrap();
        let zs = dense_rank_one_sum(&feats, w.view());
        let dense_ref = e.t().dot(&zs);
        for par in [Par::Seq, Par::Rayon(0)] {
            let got = ts.vjp(&si, &fv, w.view(), par).unwrap();
            prop_assert!(max_abs((&got - &want).iter().cloned()) <= 1e-12 * norm(want.view()).max(1e-300));
            prop_assert!(max_abs((&got - &j.t().dot(&w)).iter().cloned()) <= 1e-11 * norm(want.view()).max(1e-300) + 1e-13 * norm(zs.view()));
            prop_assert!(max_abs((&got - &dense_ref).iter().cloned()) <= 1e-11 * norm(zs.view()));
        }
        // adjointness <J c, w> = <c, J^T w> through the matrix-free products
        let lhs = ts.jvp(&si, &fv, c.view(), Par::Seq).unwrap().dot(&w);
        let rhs = c.dot(&ts.vjp(&si, &fv, w.view(), Par::Seq).unwrap());
        prop_assert!((lhs - rhs).abs() <= 1e-11 * norm(c.view()) * norm(w.view()) * max_abs(j.iter().cloned()).max(1.0) * (n_samples as f64).sqrt());
    }

    /// Central differences of the retraction at the samples converge to `J c` with `O(t^2)` error.
    #[test]
    fn central_differences_of_retraction(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = well_conditioned_tt(&shape.sizes, &shape.ranks, 0.02, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let n_samples = 40;
        let feats = random_features(&shape.sizes, n_samples, &mut rng);
        let fv = views(&feats);
        let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
        let c = gaussian_vec(ts.dim(), &mut rng);
        let c = &c / norm(c.view());
        let xi = ts.from_coords(c.view()).unwrap();
        let jc = ts.jvp(&si, &fv, c.view(), Par::Seq).unwrap();
        let ts_t: Vec<f64> = (0..=6).map(|i| 10f64.powf(-1.5 - 0.25 * i as f64)).collect();
        let mut errs = Vec::new();
        for &t in &ts_t {
            let vp = values(&ts.retract(t, &xi).unwrap(), &fv, Par::Seq).unwrap();
            let vm = values(&ts.retract(-t, &xi).unwrap(), &fv, Par::Seq).unwrap();
            let fd = (&vp - &vm) / (2.0 * t);
            errs.push(norm((&fd - &jc).view()));
        }
        let scale = norm(jc.view());
        if all_ranks_maximal(&shape.sizes, &shape.ranks) {
            prop_assert!(errs.iter().all(|&e| e <= 1e-10 * scale), "{errs:?}");
        } else {
            // O(t^2) error (slope ~2, or already at round-off: eps / t ~ 1e-14)
            let slope = loglog_slope(&ts_t, &errs);
            let at_roundoff = errs.iter().all(|&e| e <= 1e-11 * scale);
            prop_assert!(at_roundoff || (1.9..=2.1).contains(&slope), "slope {slope}, errors {errs:?}");
            prop_assert!(errs[errs.len() - 1] <= 1e-3 * scale, "{errs:?}");
        }
    }

    /// With exact tensor Gauss–Legendre quadrature (orthonormal Legendre features) as samples
    /// and the quadrature weights, `J^T diag(w) J = I_D` and `sum_i w_i v(x^i)^2 = ||X||^2`.
    #[test]
    fn quadrature_gram_is_identity(shape in shapes(2, 6, 5, 4, 15625), extra in 0usize..2) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        // q_k nodes integrate degree 2 q_k - 1 >= 2 (n_k - 1) exactly
        let mut q: Vec<usize> = shape.sizes.clone();
        if extra == 1 && shape.sizes.iter().product::<usize>() * 2 <= 15625 {
            q[0] += 1;
        }
        let (feats, w) = tensor_quadrature(&shape.sizes, &q);
        prop_assert!((w.sum() - 1.0).abs() <= 1e-13);
        let fv = views(&feats);
        let si = SampleInterfaces::new(&ts, &fv, Par::Rayon(0)).unwrap();
        let j = ts.jacobian(&si, &fv, Par::Rayon(0)).unwrap();
        let mut jw = j.clone();
        for (mut row, &wi) in jw.rows_mut().into_iter().zip(w.iter()) {
            row.mapv_inplace(|v| v * wi);
        }
        let g = j.t().dot(&jw);
        let dev = max_abs(g.indexed_iter().map(|((a, b), &v)| v - if a == b { 1.0 } else { 0.0 }));
        prop_assert!(dev <= 1e-11, "||J^T W J - I||_max = {dev:e}");
        // ||v||^2_{L^2} by quadrature = ||X||_F^2
        let vals = si.values();
        let l2 = vals.iter().zip(w.iter()).map(|(v, wi)| wi * v * v).sum::<f64>();
        let nx = x.norm().unwrap();
        prop_assert!((l2 - nx * nx).abs() <= 1e-12 * nx * nx);
        // and J^T W v = coordinates of X (since X is in T_X)
        let cw = ts.vjp(&si, &fv, (&vals * &w).view(), Par::Seq).unwrap();
        let cx = ts.to_coords(&ts.point_as_tangent()).unwrap();
        prop_assert!(max_abs((&cw - &cx).iter().cloned()) <= 1e-11 * nx);
    }
}

/// Gauss–Legendre sanity: the 1D Gram of the orthonormal Legendre features is I.
#[test]
fn legendre_quadrature_is_exact() {
    for q in 1..=8 {
        let (nodes, weights) = gauss_legendre(q);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() <= 1e-14);
        let feats: Vec<Vec<f64>> = nodes.iter().map(|&x| legendre_features(x, q)).collect();
        for a in 0..q {
            for b in 0..q {
                let g: f64 = (0..q).map(|i| weights[i] * feats[i][a] * feats[i][b]).sum();
                assert!(
                    (g - if a == b { 1.0 } else { 0.0 }).abs() <= 1e-13,
                    "q {q} ({a},{b}): {g}"
                );
            }
        }
    }
}

/// d = 1 and d = 2 Jacobians and an empty-block case, deterministic.
#[test]
fn small_order_jacobians() {
    let mut rng = StdRng::seed_from_u64(41);
    for (sizes, ranks) in [
        (vec![4], vec![]),
        (vec![3, 4], vec![2]),
        (vec![3, 4], vec![3]),
        (vec![2, 2, 2], vec![2, 2]),
    ] {
        let x = random_tt(&sizes, &ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let feats = random_features(&sizes, 30, &mut rng);
        let fv = views(&feats);
        let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
        let j = ts.jacobian(&si, &fv, Par::Seq).unwrap();
        let e = ts.basis_dense().unwrap();
        let phi = Array2::from_shape_fn((30, e.nrows()), |(i, p)| {
            kron_row(&feats, i, 0..sizes.len())[p]
        });
        let want = phi.dot(&e);
        assert!(
            max_abs((&j - &want).iter().cloned()) <= 1e-12 * max_abs(want.iter().cloned()),
            "{sizes:?} {ranks:?}"
        );
        let q: Vec<usize> = sizes.clone();
        let (qf, qw) = tensor_quadrature(&sizes, &q);
        let qv = views(&qf);
        let qsi = SampleInterfaces::new(&ts, &qv, Par::Seq).unwrap();
        let qj = ts.jacobian(&qsi, &qv, Par::Seq).unwrap();
        let mut jw = qj.clone();
        for (mut row, &wi) in jw.rows_mut().into_iter().zip(qw.iter()) {
            row.mapv_inplace(|v| v * wi);
        }
        let g = qj.t().dot(&jw);
        let dev = max_abs(
            g.indexed_iter()
                .map(|((a, b), &v)| v - if a == b { 1.0 } else { 0.0 }),
        );
        assert!(dev <= 1e-12, "{sizes:?} {ranks:?}: {dev:e}");
    }
}

/// Feature matrices in Fortran order or as strided views give the same results as C-order ones.
#[test]
fn non_contiguous_features() {
    use ndarray::ShapeBuilder;
    let mut rng = StdRng::seed_from_u64(42);
    let sizes = [3, 4, 2, 3];
    let x = random_tt(&sizes, &[3, 4, 3], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let n_samples = 700;
    let feats = random_features(&sizes, n_samples, &mut rng);
    let fortran: Vec<Array2<f64>> = feats
        .iter()
        .map(|f| {
            let mut g = Array2::zeros(f.raw_dim().f());
            g.assign(f);
            g
        })
        .collect();
    // strided: every other column of a wider matrix
    let wide: Vec<Array2<f64>> = feats
        .iter()
        .map(|f| {
            let mut g = Array2::zeros((n_samples, 2 * f.ncols()));
            g.slice_mut(ndarray::s![.., ..;2]).assign(f);
            g
        })
        .collect();
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let c = gaussian_vec(ts.dim(), &mut rng);
    let w = gaussian_vec(n_samples, &mut rng);
    let v0 = values(&x, &fv, Par::Seq).unwrap();
    let j0 = ts.jacobian(&si, &fv, Par::Seq).unwrap();
    let jc0 = ts.jvp(&si, &fv, c.view(), Par::Seq).unwrap();
    let jw0 = ts.vjp(&si, &fv, w.view(), Par::Seq).unwrap();
    let strided: Vec<ndarray::ArrayView2<'_, f64>> = wide
        .iter()
        .map(|g| g.slice(ndarray::s![.., ..;2]))
        .collect();
    for other in [views(&fortran), strided] {
        assert!(rel_err(values(&x, &other, Par::Rayon(0)).unwrap().view(), v0.view()) <= 1e-14);
        let si2 = SampleInterfaces::new(&ts, &other, Par::Seq).unwrap();
        for k in 0..=sizes.len() {
            assert!(max_abs((&si2.left_u[k] - &si.left_u[k]).iter().cloned()) <= 1e-13);
            assert!(max_abs((&si2.right_v[k] - &si.right_v[k]).iter().cloned()) <= 1e-13);
        }
        let j = ts.jacobian(&si2, &other, Par::Rayon(0)).unwrap();
        assert!(max_abs((&j - &j0).iter().cloned()) <= 1e-13 * max_abs(j0.iter().cloned()));
        assert!(
            rel_err(
                ts.jvp(&si2, &other, c.view(), Par::Seq).unwrap().view(),
                jc0.view()
            ) <= 1e-13
        );
        assert!(
            rel_err(
                ts.vjp(&si2, &other, w.view(), Par::Seq).unwrap().view(),
                jw0.view()
            ) <= 1e-13
        );
    }
    // a Fortran-order output of jacobian_into / jacobian_rows
    let mut jf = Array2::zeros((n_samples, ts.dim()).f());
    ts.jacobian_into(&si, &fv, jf.view_mut(), Par::Rayon(0))
        .unwrap();
    assert!(max_abs((&jf - &j0).iter().cloned()) <= 1e-15 * max_abs(j0.iter().cloned()));
    let mut part = Array2::zeros((10, ts.dim()));
    ts.jacobian_rows(&si, &fv, 600..610, part.view_mut())
        .unwrap();
    assert_eq!(part, j0.slice(ndarray::s![600..610, ..]));
    assert!(ts
        .jacobian_rows(&si, &fv, 695..705, Array2::zeros((10, ts.dim())).view_mut())
        .is_err());
    assert!(ts
        .jacobian_rows(
            &si,
            &fv,
            0..10,
            Array2::zeros((10, ts.dim() + 1)).view_mut()
        )
        .is_err());
    assert!(ts
        .jacobian_into(
            &si,
            &fv,
            Array2::zeros((n_samples - 1, ts.dim())).view_mut(),
            Par::Seq
        )
        .is_err());
}
