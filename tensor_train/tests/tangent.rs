//! Issue "geometry": tangent space, explicit basis, projection, tangent TTs, retraction.

mod common;

use common::*;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace, TangentVector};
use tensor_train::{Gauge, TensorTrain, Truncation, TtError};

fn other_ranks(shape: &Shape, req: &[usize]) -> Vec<usize> {
    tensor_train::clamp_ranks(&shape.sizes, &req[..shape.d() - 1])
}

/// `||E^T E - I||_max`.
fn orthonormality_error(e: &Array2<f64>) -> f64 {
    let g = e.t().dot(e);
    max_abs(
        g.indexed_iter()
            .map(|((i, j), &v)| v - if i == j { 1.0 } else { 0.0 }),
    )
}

/// Every tangent routine on one point (used by the proptests and the edge cases).
fn check_tangent_space(x: &TensorTrain, rng: &mut StdRng) -> Result<(), TestCaseError> {
    let sizes = x.mode_sizes();
    let ranks = x.internal_ranks();
    let ts = TangentSpace::new(x).unwrap();
    let d = ts.order();
    let dim = manifold_dim(&sizes, &ranks);
    prop_assert_eq!(ts.dim(), dim);
    prop_assert_eq!(ts.block_dims().iter().sum::<usize>(), dim);
    prop_assert_eq!(ts.block_offsets()[d], dim);
    prop_assert_eq!(ts.point().gauge(), Gauge::Mixed { center: d - 1 });
    prop_assert_eq!(ts.point_right().gauge(), Gauge::Mixed { center: 0 });
    let xd = dense(x);
    prop_assert!(rel_err(dense(ts.point_right()).view(), xd.view()) <= 1e-12);
    // explicit basis
    let e = ts.basis_dense().unwrap();
    prop_assert_eq!(e.dim(), (xd.len(), dim));
    let oe = orthonormality_error(&e);
    prop_assert!(oe <= 1e-12, "E^T E - I = {oe:e}");
    // every column meets the gauge conditions
    for j in 0..dim.min(40) {
        let mut c = Array1::zeros(dim);
        c[j] = 1.0;
        let col = ts.from_coords(c.view()).unwrap();
        prop_assert!(ts.gauge_violation(&col) <= 1e-13);
    }
    // projection of a random TT equals E E^T vec Z
    let zr = tensor_train::clamp_ranks(&sizes, &vec![3; d - 1]);
    let z = random_tt(&sizes, &zr, rng);
    let zd = dense(&z);
    let pz = ts.project_tt(&z).unwrap();
    let pz_dense = dense(&ts.to_tt(&pz).unwrap());
    let ref_dense = e.dot(&e.t().dot(&zd));
    prop_assert!(
        rel_err(pz_dense.view(), ref_dense.view())
            <= 1e-10 + 1e-12 * norm(zd.view()) / norm(ref_dense.view()).max(1e-300)
    );
    // coordinates of the projection are E^T vec Z
    let cz = ts.to_coords(&pz).unwrap();
    let cref = e.t().dot(&zd);
    prop_assert!(max_abs((&cz - &cref).iter().cloned()) <= 1e-12 * norm(zd.view()));
    prop_assert!(ts.gauge_violation(&pz) <= 1e-12 * norm(zd.view()));
    // P X = X
    let px = ts.project_tt(x).unwrap();
    prop_assert!(tangent_diff_norm(&px, &ts.point_as_tangent()) <= 1e-12 * norm(xd.view()));
    // idempotence on a random tangent vector and on P Z
    let (c, xi) = random_tangent(&ts, rng);
    let pxi = ts.project_tt(&ts.to_tt(&xi).unwrap()).unwrap();
    prop_assert!(tangent_diff_norm(&pxi, &xi) <= 1e-10 * xi.norm());
    let ppz = ts.project_tt(&ts.to_tt(&pz).unwrap()).unwrap();
    prop_assert!(tangent_diff_norm(&ppz, &pz) <= 1e-10 * pz.norm().max(1e-300));
    // coordinates round trips and the dense tangent
    let back = ts.to_coords(&xi).unwrap();
    prop_assert!(max_abs((&back - &c).iter().cloned()) <= 1e-12 * norm(c.view()).max(1.0));
    let xid = dense(&ts.to_tt(&xi).unwrap());
    prop_assert!(rel_err(xid.view(), e.dot(&c).view()) <= 1e-11);
    prop_assert!(rel_err(xid.view(), dense_tangent(&ts, &xi).view()) <= 1e-11);
    prop_assert!(
        (ts.to_tt(&xi).unwrap().norm().unwrap() - norm(c.view())).abs() <= 1e-11 * norm(c.view())
    );
    // retraction at 0 is the identity, at small t the ranks are kept
    let r0 = ts.retract(0.0, &xi).unwrap();
    prop_assert!(rel_err(dense(&r0).view(), xd.view()) <= 1e-12);
    prop_assert_eq!(r0.internal_ranks(), ranks.clone());
    let r1 = ts.retract(1e-3, &xi).unwrap();
    prop_assert_eq!(r1.internal_ranks(), ranks.clone());
    prop_assert!(r1.left_orthogonality_error(d - 1) <= 1e-12);
    prop_assert!(TangentSpace::new(&r1).is_ok());
    // sample projection on a few samples equals E^T (sum_i w_i Phi(x^i))
    let n_samples = 7;
    let feats = random_features(&sizes, n_samples, rng);
    let fv = views(&feats);
    let w = gaussian_vec(n_samples, rng);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let ps = ts.project_samples(&si, &fv, w.view(), Par::Seq).unwrap();
    let zs = dense_rank_one_sum(&feats, w.view());
    let cs = ts.to_coords(&ps).unwrap();
    prop_assert!(max_abs((&cs - &e.t().dot(&zs)).iter().cloned()) <= 1e-11 * norm(zs.view()));
    Ok(())
}

proptest! {
    #![proptest_config(config(32, 0x5eed_0003))]

    /// P_X: idempotent, self-adjoint, P X = X, P xi = xi, ||P Z|| <= ||Z||, gauge conditions.
    #[test]
    fn projection_properties(shape in std_shapes(), zr in proptest::collection::vec(1usize..=4, 5), wr in proptest::collection::vec(1usize..=4, 5)) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let z = random_tt(&shape.sizes, &other_ranks(&shape, &zr), &mut rng);
        let w = random_tt(&shape.sizes, &other_ranks(&shape, &wr), &mut rng);
        let (nz, nw) = (z.norm().unwrap(), w.norm().unwrap());
        let pz = ts.project_tt(&z).unwrap();
        let pw = ts.project_tt(&w).unwrap();
        prop_assert!(ts.gauge_violation(&pz) <= 1e-12 * nz);
        prop_assert!(ts.gauge_violation(&pw) <= 1e-12 * nw);
        // idempotent
        let ppz = ts.project_tt(&ts.to_tt(&pz).unwrap()).unwrap();
        prop_assert!(tangent_diff_norm(&ppz, &pz) <= 1e-10 * nz);
        // self-adjoint: <P Z, W> = <Z, P W>, and both equal <P Z, P W> = sum of block products
        let a = ts.to_tt(&pz).unwrap().dot(&w).unwrap();
        let b = z.dot(&ts.to_tt(&pw).unwrap()).unwrap();
        let c = pz.dot(&pw);
        prop_assert!((a - b).abs() <= 1e-10 * nz * nw, "<PZ,W> = {a}, <Z,PW> = {b}");
        prop_assert!((a - c).abs() <= 1e-10 * nz * nw);
        // norm does not grow; the tangent-TT norm equals the block norm
        prop_assert!(pz.norm() <= nz * (1.0 + 1e-12));
        let pz_tt_norm = ts.to_tt(&pz).unwrap().norm().unwrap();
        prop_assert!((pz_tt_norm - pz.norm()).abs() <= 1e-10 * nz);
        // Pythagoras: ||Z||^2 = ||PZ||^2 + ||Z - PZ||^2
        let resid = z.axpby(1.0, &ts.to_tt(&pz).unwrap(), -1.0).unwrap().norm().unwrap();
        prop_assert!((nz * nz - pz.norm().powi(2) - resid * resid).abs() <= 1e-10 * nz * nz);
        // P X = X, P xi = xi
        let px = ts.project_tt(&x).unwrap();
        let nx = x.norm().unwrap();
        prop_assert!(tangent_diff_norm(&px, &ts.point_as_tangent()) <= 1e-12 * nx);
        let (cx, xi) = random_tangent(&ts, &mut rng);
        let pxi = ts.project_tt(&ts.to_tt(&xi).unwrap()).unwrap();
        prop_assert!(tangent_diff_norm(&pxi, &xi) <= 1e-10 * norm(cx.view()));
        // linearity
        let zw = z.axpby(2.0, &w, -1.0).unwrap();
        let pzw = ts.project_tt(&zw).unwrap();
        let mut lin = pz.scaled(2.0);
        lin.axpy(-1.0, &pw);
        prop_assert!(tangent_diff_norm(&pzw, &lin) <= 1e-10 * (nz + nw));
        // transport from another point: gauge conditions at the new point, and P_Y xi = xi for xi in T_Y
        let y = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ty = TangentSpace::new(&y).unwrap();
        let (_, eta) = random_tangent(&ty, &mut rng);
        let moved = ts.transport(&ty, &eta).unwrap();
        prop_assert!(ts.gauge_violation(&moved) <= 1e-12 * eta.norm());
        prop_assert!(moved.norm() <= eta.norm() * (1.0 + 1e-12));
        let same = ty.transport(&ty, &eta).unwrap();
        prop_assert!(tangent_diff_norm(&same, &eta) <= 1e-10 * eta.norm());
        // P_Y (Y - X) = Y - P_Y X
        let diff = y.axpby(1.0, &x, -1.0).unwrap();
        let lhs = ty.project_tt(&diff).unwrap();
        let mut rhs = ty.point_as_tangent();
        rhs.axpy(-1.0, &ty.project_tt(&x).unwrap());
        prop_assert!(tangent_diff_norm(&lhs, &rhs) <= 1e-10 * (nx + y.norm().unwrap()));
    }

    /// Explicit basis: D columns, orthonormal, P_X = E E^T densely, coordinates round trips,
    /// tangent TTs, retraction basics, sample projection (all checks of `check_tangent_space`).
    #[test]
    fn basis_and_dense_identities(shape in shapes(2, 6, 5, 4, 4096)) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        check_tangent_space(&x, &mut rng)?;
    }

    /// tangent -> coords -> tangent is the identity on gauge-satisfying blocks; coords -> tangent
    /// -> coords is the identity; the rank-2r TT equals the dense sum and has norm ||c||; TT
    /// inner products of tangent TTs equal coordinate inner products.
    #[test]
    fn tangent_vectors(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        // random blocks with the gauge enforced
        let mut t = ts.zero();
        for b in t.blocks.iter_mut() {
            let (p, n, q) = b.dim();
            *b = gaussian((p * n, q), &mut rng).into_shape_with_order((p, n, q)).unwrap();
        }
        ts.enforce_gauge(&mut t).unwrap();
        prop_assert!(ts.gauge_violation(&t) <= 1e-12 * t.norm());
        let c = ts.to_coords(&t).unwrap();
        prop_assert_eq!(c.len(), ts.dim());
        prop_assert!((norm(c.view()) - t.norm()).abs() <= 1e-12 * t.norm());
        let t2 = ts.from_coords(c.view()).unwrap();
        prop_assert!(tangent_diff_norm(&t2, &t) <= 1e-12 * t.norm());
        let (c1, xi) = random_tangent(&ts, &mut rng);
        let c1b = ts.to_coords(&xi).unwrap();
        prop_assert!(max_abs((&c1b - &c1).iter().cloned()) <= 1e-12 * norm(c1.view()));
        // rank-2r TT
        let tt = ts.to_tt(&xi).unwrap();
        let full = shape.full_ranks();
        for (k, &r) in tt.ranks().iter().enumerate() {
            let want = if k == 0 || k == shape.d() { 1 } else { 2 * full[k] };
            prop_assert_eq!(r, want);
        }
        prop_assert!(rel_err(dense(&tt).view(), dense_tangent(&ts, &xi).view()) <= 1e-11);
        prop_assert!((tt.norm().unwrap() - norm(c1.view())).abs() <= 1e-11 * norm(c1.view()));
        prop_assert!((tt.dot(&ts.to_tt(&t).unwrap()).unwrap() - c1.dot(&c)).abs() <= 1e-10 * norm(c1.view()) * norm(c.view()));
        prop_assert!((xi.dot(&t) - c1.dot(&c)).abs() <= 1e-11 * norm(c1.view()) * norm(c.view()));
        // shifted combination shift X + t xi
        let comb = ts.combined_tt(0.5, -2.0, &xi).unwrap();
        let want = &dense(&x) * 0.5 - &dense(&tt) * 2.0;
        prop_assert!(rel_err(dense(&comb).view(), want.view()) <= 1e-11);
        // the point as a tangent vector has coordinates (0, .., vec S_d)
        let cx = ts.to_coords(&ts.point_as_tangent()).unwrap();
        prop_assert!((norm(cx.view()) - x.norm().unwrap()).abs() <= 1e-12 * x.norm().unwrap());
        let last = ts.block_offsets()[shape.d() - 1];
        prop_assert!(max_abs(cx.slice(ndarray::s![..last]).iter().cloned()) <= 1e-13);
    }

    /// Projection of a weighted sum of rank-one feature tensors (sample projection) equals
    /// project_tt of the explicitly summed tensor (TT-SVD at full rank).
    #[test]
    fn sample_projection_equals_dense_sum(shape in std_shapes(), n_samples in prop_oneof![1usize..30, 515usize..600]) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let feats = random_features(&shape.sizes, n_samples, &mut rng);
        let fv = views(&feats);
        let w = gaussian_vec(n_samples, &mut rng);
        let zd = dense_rank_one_sum(&feats, w.view());
        let z = TensorTrain::from_dense(ArrayD::from_shape_vec(IxDyn(&shape.sizes), zd.to_vec()).unwrap().view(), &Truncation::default()).unwrap();
        let want = ts.project_tt(&z).unwrap();
        let nz = norm(zd.view());
        // chunk-ordered reductions: bitwise the same result sequentially and in parallel
        let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
        let a = ts.project_samples(&si, &fv, w.view(), Par::Seq).unwrap();
        let b = ts.project_samples(&si, &fv, w.view(), Par::Rayon(0)).unwrap();
        prop_assert_eq!(a, b);
        for par in [Par::Seq, Par::Rayon(0)] {
            let si = SampleInterfaces::new(&ts, &fv, par).unwrap();
            prop_assert!(rel_err(si.values(), dense_values(&dense(&x), &feats).view()) <= 1e-11);
            let got = ts.project_samples(&si, &fv, w.view(), par).unwrap();
            prop_assert!(tangent_diff_norm(&got, &want) <= 1e-11 * nz, "{:e}", tangent_diff_norm(&got, &want) / nz);
            prop_assert!(ts.gauge_violation(&got) <= 1e-12 * nz);
        }
    }

    /// Retraction: R_X(0) = X, left-orthogonal output with the ranks of X, and
    /// ||R_X(t xi) - X - t xi|| = O(t^2) (log-log slope ~2 over t in 1e-2..1e-4) at points whose
    /// unfoldings have a singular-value gap.
    #[test]
    fn retraction_is_second_order(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = well_conditioned_tt(&shape.sizes, &shape.ranks, 0.02, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let d = shape.d();
        let (c, xi) = random_tangent(&ts, &mut rng);
        let xi = xi.scaled(1.0 / norm(c.view()));
        let xd = dense(&x);
        let xid = dense(&ts.to_tt(&xi).unwrap());
        let r0 = ts.retract(0.0, &xi).unwrap();
        prop_assert!(rel_err(dense(&r0).view(), xd.view()) <= 1e-12);
        let ts_t: Vec<f64> = (0..=8).map(|i| 10f64.powf(-2.0 - 0.25 * i as f64)).collect();
        let mut errs = Vec::new();
        for &t in &ts_t {
            let r = ts.retract(t, &xi).unwrap();
            prop_assert_eq!(r.gauge(), Gauge::Mixed { center: d - 1 });
            prop_assert_eq!(r.internal_ranks(), shape.ranks.clone());
            prop_assert!(r.left_orthogonality_error(d - 1) <= 1e-12);
            let e = norm((&dense(&r) - &xd - &xid * t).view());
            errs.push(e);
        }
        if all_ranks_maximal(&shape.sizes, &shape.ranks) {
            // M_r is open: X + t xi is on it and the retraction is exact
            prop_assert!(errs.iter().all(|&e| e <= 1e-12), "{errs:?}");
        } else {
            let slope = loglog_slope(&ts_t, &errs);
            prop_assert!((1.85..=2.15).contains(&slope), "slope {slope}, errors {errs:?}");
            // and the second-order constant is moderate
            prop_assert!(errs[0] <= 1e-2, "{errs:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// deterministic edge cases

/// Empty tangent blocks: `r_{k-1} n_k = r_k` (square left unfolding, `D_k = 0`).
#[test]
fn empty_tangent_blocks() {
    let mut rng = StdRng::seed_from_u64(31);
    // d = 3, n = 2, ranks [2, 2]: core 1 is 1x2x2 (left unfolding 2x2), core 2 is 2x2x2
    // (left unfolding 4x2), core 3 2x2x1
    for (sizes, ranks) in [
        (vec![2, 2, 2], vec![2, 2]),
        (vec![2, 2, 2, 2], vec![2, 4, 2]), // cores 1 and 2 have square left unfoldings
        (vec![3, 2, 4], vec![3, 4]),       // both internal blocks empty? r1 = 3 = 1*3, r2 = 4 <= 6
        (vec![2, 3], vec![2]),             // d = 2 full rank
        (vec![4, 4, 4], vec![4, 4]),
    ] {
        let x = random_tt(&sizes, &ranks, &mut rng);
        let ts = TangentSpace::new(&x).unwrap();
        let full: Vec<usize> = std::iter::once(1)
            .chain(ranks.iter().cloned())
            .chain(std::iter::once(1))
            .collect();
        for k in 0..sizes.len() - 1 {
            if full[k] * sizes[k] == full[k + 1] {
                assert_eq!(ts.block_dims()[k], 0, "{sizes:?} {ranks:?} block {k}");
            }
        }
        check_tangent_space(&x, &mut rng).unwrap_or_else(|e| panic!("{sizes:?} {ranks:?}: {e}"));
        // the Jacobian routines too
        let feats = random_features(&sizes, 600, &mut rng);
        let fv = views(&feats);
        let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
        let j = ts.jacobian(&si, &fv, Par::Rayon(0)).unwrap();
        assert_eq!(j.dim(), (600, ts.dim()));
        let c = gaussian_vec(ts.dim(), &mut rng);
        let jc = ts.jvp(&si, &fv, c.view(), Par::Seq).unwrap();
        assert!(rel_err(jc.view(), j.dot(&c).view()) <= 1e-12);
        let w = gaussian_vec(600, &mut rng);
        let jtw = ts.vjp(&si, &fv, w.view(), Par::Rayon(0)).unwrap();
        assert!(rel_err(jtw.view(), j.t().dot(&w).view()) <= 1e-12);
    }
}

/// d = 3, n = 2, ranks [2, 2] worked through by hand: D = 4 + 8 + 4 - 8 = 8.
#[test]
fn square_left_unfolding_dimension() {
    let mut rng = StdRng::seed_from_u64(32);
    let x = random_tt(&[2, 2, 2], &[2, 2], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    assert_eq!(ts.block_dims(), &[0, 4, 4]);
    assert_eq!(ts.dim(), 8);
    // a tangent vector has a zero first block
    let (_, xi) = random_tangent(&ts, &mut rng);
    assert!(max_abs(xi.blocks[0].iter().cloned()) <= 1e-15);
}

/// d = 1: the tangent space is the whole space, the projection is the identity, the retraction
/// is X + t xi.
#[test]
fn order_one_tangent_space() {
    let mut rng = StdRng::seed_from_u64(33);
    let x = random_tt(&[5], &[], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    assert_eq!(ts.dim(), 5);
    let e = ts.basis_dense().unwrap();
    assert!(orthonormality_error(&e) <= 1e-15);
    let z = random_tt(&[5], &[], &mut rng);
    let pz = ts.project_tt(&z).unwrap();
    assert!(rel_err(dense(&ts.to_tt(&pz).unwrap()).view(), dense(&z).view()) <= 1e-14);
    let (c, xi) = random_tangent(&ts, &mut rng);
    let r = ts.retract(0.3, &xi).unwrap();
    let want = &dense(&x) + &(&e.dot(&c) * 0.3);
    assert!(rel_err(dense(&r).view(), want.view()) <= 1e-14);
    check_tangent_space(&x, &mut rng).unwrap();
    let feats = random_features(&[5], 9, &mut rng);
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let j = ts.jacobian(&si, &fv, Par::Seq).unwrap();
    assert!(
        rel_err(
            j.view().into_shape_with_order(45).unwrap(),
            feats[0].view().into_shape_with_order(45).unwrap()
        ) <= 1e-15
    );
}

/// d = 2: the fixed-rank matrix manifold; the projection is P = UU^T Z + Z VV^T - UU^T Z VV^T.
#[test]
fn order_two_matrix_manifold() {
    let mut rng = StdRng::seed_from_u64(34);
    let (m, n, r) = (5, 4, 2);
    let x = random_tt(&[m, n], &[r], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    assert_eq!(ts.dim(), (m + n - r) * r);
    let xm = unfolding(&dense(&x), &[m, n], 1);
    let svd = tensor_train::linalg::svd_thin(xm.view())
        .unwrap()
        .truncate(r);
    let pu = svd.u.dot(&svd.u.t());
    let pv = svd.vt.t().dot(&svd.vt);
    let z = random_tt(&[m, n], &[3], &mut rng);
    let zm = unfolding(&dense(&z), &[m, n], 1);
    let want = pu.dot(&zm) + zm.dot(&pv) - pu.dot(&zm).dot(&pv);
    let got = dense(&ts.to_tt(&ts.project_tt(&z).unwrap()).unwrap());
    let want = Array1::from_iter(want.iter().cloned());
    assert!(rel_err(got.view(), want.view()) <= 1e-12);
    check_tangent_space(&x, &mut rng).unwrap();
}

/// Invalid inputs of the tangent routines are errors.
#[test]
fn tangent_errors() {
    let mut rng = StdRng::seed_from_u64(35);
    let x = random_tt(&[3, 4, 2], &[2, 2], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    // inadmissible ranks (a sum): r_1 = 4 > n_1 = 3
    let y = x.add(&x).unwrap();
    assert!(matches!(TangentSpace::new(&y), Err(TtError::Rank { .. })));
    // right-inadmissible: r_1 = 3 <= n_1, but r_1 > n_2 r_2
    let bad = TensorTrain::from_cores(vec![
        ndarray::Array3::ones((1, 3, 3)),
        ndarray::Array3::ones((3, 2, 1)),
        ndarray::Array3::ones((1, 2, 1)),
    ])
    .unwrap();
    assert!(matches!(TangentSpace::new(&bad), Err(TtError::Rank { .. })));
    // wrong coordinate length, wrong block shapes
    assert!(ts.from_coords(Array1::zeros(ts.dim() + 1).view()).is_err());
    let mut wrong = ts.zero();
    wrong.blocks.pop();
    assert!(ts.to_coords(&wrong).is_err());
    assert!(ts.to_tt(&wrong).is_err());
    assert!(ts.retract(0.1, &wrong).is_err());
    assert!(ts.enforce_gauge(&mut wrong).is_err());
    let mut wrong2 = ts.zero();
    wrong2.blocks[1] = ndarray::Array3::zeros((2, 4, 3));
    assert!(ts.to_coords(&wrong2).is_err());
    // projection of a TT with other modes
    let z = random_tt(&[3, 4, 3], &[2, 2], &mut rng);
    assert!(ts.project_tt(&z).is_err());
    // features and weights
    let feats = random_features(&[3, 4, 2], 10, &mut rng);
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    assert!(ts
        .project_samples(&si, &fv, Array1::zeros(9).view(), Par::Seq)
        .is_err());
    assert!(ts
        .project_samples(&si, &fv[..2], Array1::zeros(10).view(), Par::Seq)
        .is_err());
    let other = random_features(&[3, 4, 2], 11, &mut rng);
    assert!(ts
        .project_samples(&si, &views(&other), Array1::zeros(11).view(), Par::Seq)
        .is_err());
    assert!(ts.jacobian(&si, &views(&other), Par::Seq).is_err());
    assert!(ts
        .jvp(&si, &fv, Array1::zeros(ts.dim() + 2).view(), Par::Seq)
        .is_err());
    assert!(ts.vjp(&si, &fv, Array1::zeros(3).view(), Par::Seq).is_err());
    assert!(ts.tangent_values(&si, &fv, &wrong2, Par::Seq).is_err());
    let mut bad_feats = feats.clone();
    bad_feats[0] = gaussian((10, 2), &mut rng);
    assert!(SampleInterfaces::new(&ts, &views(&bad_feats), Par::Seq).is_err());
}

/// Tangent blocks in Fortran order are handled like C-order ones.
#[test]
fn fortran_order_blocks() {
    use ndarray::ShapeBuilder;
    let mut rng = StdRng::seed_from_u64(36);
    let x = random_tt(&[3, 4, 2], &[2, 2], &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let (c, xi) = random_tangent(&ts, &mut rng);
    let f = TangentVector {
        blocks: xi
            .blocks
            .iter()
            .map(|b| {
                let mut fb = ndarray::Array3::zeros(b.raw_dim().f());
                fb.assign(b);
                fb
            })
            .collect(),
    };
    assert!(max_abs((&ts.to_coords(&f).unwrap() - &c).iter().cloned()) <= 1e-13);
    assert!(ts.gauge_violation(&f) <= 1e-13);
    let mut g = f.clone();
    ts.enforce_gauge(&mut g).unwrap();
    assert!(tangent_diff_norm(&g, &xi) <= 1e-13);
    let feats = random_features(&[3, 4, 2], 5, &mut rng);
    let fv = views(&feats);
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let a = ts.tangent_values(&si, &fv, &f, Par::Seq).unwrap();
    let b = ts.tangent_values(&si, &fv, &xi, Par::Seq).unwrap();
    assert!(rel_err(a.view(), b.view()) <= 1e-14);
}

/// A point whose ranks exceed its tensor ranks (zero-padded cores, the boundary of `M_r`):
/// the basis is still an isometry and the retraction keeps the shapes.
#[test]
fn rank_deficient_point() {
    let mut rng = StdRng::seed_from_u64(37);
    let x1 = random_tt(&[3, 3, 3], &[1, 1], &mut rng);
    let padded: Vec<ndarray::Array3<f64>> = x1
        .cores()
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let (a, n, b) = c.dim();
            let (pa, pb) = (if k == 0 { 1 } else { 2 }, if k == 2 { 1 } else { 2 });
            let mut p = ndarray::Array3::zeros((pa, n, pb));
            p.slice_mut(ndarray::s![..a, .., ..b]).assign(c);
            p
        })
        .collect();
    let x = TensorTrain::from_cores(padded).unwrap();
    assert_eq!(x.internal_ranks(), vec![2, 2]);
    let ts = TangentSpace::new(&x).unwrap();
    let e = ts.basis_dense().unwrap();
    assert!(orthonormality_error(&e) <= 1e-12);
    let r0 = ts.retract(0.0, &ts.zero()).unwrap();
    assert_eq!(r0.internal_ranks(), vec![2, 2]);
    assert!(rel_err(dense(&r0).view(), dense(&x).view()) <= 1e-12);
    assert!(TangentSpace::new(&r0).is_ok());
    let (_, xi) = random_tangent(&ts, &mut rng);
    let r = ts.retract(0.1, &xi).unwrap();
    assert_eq!(r.internal_ranks(), vec![2, 2]);
    let tr = TangentSpace::new(&r).unwrap();
    assert!(orthonormality_error(&tr.basis_dense().unwrap()) <= 1e-12);
}
