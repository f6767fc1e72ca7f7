//! Issue "foundation": TT-SVD, evaluation, inner products, interfaces and input validation.

mod common;

use common::*;
use ndarray::{Array1, Array2, Array3, ArrayD, Dimension, IxDyn, ShapeBuilder};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor_train::interfaces::{left_interfaces, right_interfaces, values};
use tensor_train::linalg::Par;
use tensor_train::{check_ranks, CoreDistribution, TensorTrain, Truncation, TtError};

proptest! {
    #![proptest_config(config(32, 0x5eed_0001))]

    /// TT-SVD at full rank reproduces a random dense tensor to 1e-12 relative.
    #[test]
    fn tt_svd_full_rank_is_exact(shape in std_shapes()) {
        let mut rng = shape.rng();
        let total = shape.total();
        let a = gaussian_vec(total, &mut rng);
        let t = ArrayD::from_shape_vec(IxDyn(&shape.sizes), a.to_vec()).unwrap();
        let tt = TensorTrain::from_dense(t.view(), &Truncation::default()).unwrap();
        let err = rel_err(dense(&tt).view(), a.view());
        prop_assert!(err <= 1e-12, "relative error {err:e}");
        // left-orthogonal output, exact norm in the last core
        prop_assert!(tt.left_orthogonality_error(tt.order() - 1) <= 1e-12);
        prop_assert!((tt.norm().unwrap() - norm(a.view())).abs() <= 1e-12 * norm(a.view()));
        // ranks are the ranks of the unfoldings (generic: min of the two sides)
        for (k, &r) in tt.internal_ranks().iter().enumerate() {
            let left: usize = shape.sizes[..=k].iter().product();
            let right: usize = shape.sizes[k + 1..].iter().product();
            prop_assert_eq!(r, left.min(right));
        }
    }

    /// TT-SVD of an exactly low-rank tensor with a rank cap at its ranks reproduces it.
    #[test]
    fn tt_svd_of_low_rank_tensor(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let xd = dense(&x);
        let t = ArrayD::from_shape_vec(IxDyn(&shape.sizes), xd.to_vec()).unwrap();
        let tt = TensorTrain::from_dense(t.view(), &Truncation::ranks(&shape.ranks)).unwrap();
        prop_assert!(rel_err(dense(&tt).view(), xd.view()) <= 1e-11);
        prop_assert!(tt.internal_ranks().iter().zip(&shape.ranks).all(|(a, b)| a <= b));
    }

    /// entry() and entries() equal the dense tensor.
    #[test]
    fn entries_equal_dense(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let xd = x.to_dense().unwrap();
        prop_assert_eq!(xd.shape(), &shape.sizes[..]);
        let scale = max_abs(xd.iter().cloned());
        let mut idx = Vec::new();
        for (multi, &v) in xd.indexed_iter() {
            let m: Vec<usize> = multi.as_array_view().to_vec();
            let e = x.entry(&m).unwrap();
            prop_assert!((e - v).abs() <= 1e-13 * scale.max(1.0));
            if idx.len() < 20 * shape.d() {
                idx.extend_from_slice(&m);
            }
        }
        let n = idx.len() / shape.d();
        let ind = Array2::from_shape_vec((n, shape.d()), idx.clone()).unwrap();
        let batch = x.entries(ind.view()).unwrap();
        for i in 0..n {
            prop_assert_eq!(batch[i], x.entry(&idx[i * shape.d()..(i + 1) * shape.d()]).unwrap());
        }
    }

    /// dot, norm and add equal the dense computations.
    #[test]
    fn inner_product_and_norm(shape in std_shapes(), other_ranks in proptest::collection::vec(1usize..=4, 5)) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let sranks = tensor_train::clamp_ranks(&shape.sizes, &other_ranks[..shape.d() - 1]);
        let y = random_tt(&shape.sizes, &sranks, &mut rng);
        let (xd, yd) = (dense(&x), dense(&y));
        let scale = norm(xd.view()) * norm(yd.view());
        prop_assert!((x.dot(&y).unwrap() - xd.dot(&yd)).abs() <= 1e-12 * scale);
        prop_assert!((y.dot(&x).unwrap() - xd.dot(&yd)).abs() <= 1e-12 * scale);
        prop_assert!((x.norm().unwrap() - norm(xd.view())).abs() <= 1e-12 * norm(xd.view()));
        // norm in every mixed gauge
        let mut xm = x.clone();
        for k in 0..shape.d() {
            xm.orthogonalize_to(k).unwrap();
            prop_assert!((xm.norm().unwrap() - norm(xd.view())).abs() <= 1e-12 * norm(xd.view()));
        }
        let s = x.add(&y).unwrap();
        prop_assert!(rel_err(dense(&s).view(), (&xd + &yd).view()) <= 1e-13);
        let c = x.axpby(2.0, &y, -0.5).unwrap();
        prop_assert!(rel_err(dense(&c).view(), (&xd * 2.0 - &yd * 0.5).view()) <= 1e-13);
        // a sum with inadmissible ranks still has the right norm
        prop_assert!((s.norm().unwrap() - norm((&xd + &yd).view())).abs() <= 1e-12 * (norm(xd.view()) + norm(yd.view())));
        let scaled = x.scaled(-3.0);
        prop_assert!(rel_err(dense(&scaled).view(), (&xd * -3.0).view()) <= 1e-14);
    }

    /// Batch evaluation and both interface families equal dense contractions with random
    /// feature matrices, sequentially and in parallel, across chunk boundaries.
    #[test]
    fn batch_evaluation_and_interfaces(shape in std_shapes(), n_samples in prop_oneof![1usize..40, 510usize..1100]) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let feats = random_features(&shape.sizes, n_samples, &mut rng);
        let fv = views(&feats);
        let xd = dense(&x);
        let d = shape.d();
        // dense reference on at most 60 samples (dense kron rows are prod(n) long)
        let check: Vec<usize> = (0..n_samples).step_by((n_samples / 60).max(1)).collect();
        let seq = values(&x, &fv, Par::Seq).unwrap();
        let par = values(&x, &fv, Par::Rayon(0)).unwrap();
        prop_assert_eq!(seq.len(), n_samples);
        let left = left_interfaces(&x, &fv, Par::Rayon(0)).unwrap();
        let right = right_interfaces(&x, &fv, Par::Seq).unwrap();
        let left_seq = left_interfaces(&x, &fv, Par::Seq).unwrap();
        prop_assert_eq!(left.len(), d + 1);
        prop_assert_eq!(right.len(), d + 1);
        let lp: Vec<Array2<f64>> = (0..=d).map(|k| left_partial(&x, k)).collect();
        let rp: Vec<Array2<f64>> = (0..=d).map(|k| right_partial(&x, k)).collect();
        for &i in &check {
            let phi = kron_row(&feats, i, 0..d);
            let v = phi.dot(&xd);
            let scale = phi.dot(&phi).sqrt() * norm(xd.view());
            prop_assert!((seq[i] - v).abs() <= 1e-12 * scale, "seq {} vs dense {}", seq[i], v);
            prop_assert!((par[i] - seq[i]).abs() <= 1e-14 * scale);
            prop_assert!((left[d][[i, 0]] - v).abs() <= 1e-12 * scale);
            prop_assert!((right[0][[i, 0]] - v).abs() <= 1e-12 * scale);
            for k in 0..=d {
                let (kl, kr) = (kron_row(&feats, i, 0..k), kron_row(&feats, i, k..d));
                let l_ref = kl.dot(&lp[k]);
                let r_ref = rp[k].dot(&kr);
                // scale of the terms summed (the result may cancel)
                let fro = |m: &Array2<f64>| m.iter().map(|v| v * v).sum::<f64>().sqrt();
                let ls = norm(kl.view()) * fro(&lp[k]);
                let rs = norm(kr.view()) * fro(&rp[k]);
                prop_assert!(max_abs((&left[k].row(i) - &l_ref).iter().cloned()) <= 1e-12 * ls);
                prop_assert!(max_abs((&right[k].row(i) - &r_ref).iter().cloned()) <= 1e-12 * rs);
                // v = ell_k rho_{k+1} for every k
                if k < d {
                    let split = left[k].row(i).dot(&right[k].row(i));
                    prop_assert!((split - v).abs() <= 1e-12 * scale);
                }
            }
        }
        prop_assert!(max_abs((&left[d] - &left_seq[d]).iter().cloned()) <= 1e-12 * max_abs(seq.iter().cloned()).max(1.0));
        prop_assert!(rel_err(x.eval_features(&fv, Par::Seq).unwrap().view(), seq.view()) <= 1e-15);
    }

    /// Batch evaluation with one-hot features equals entries (grid evaluation).
    #[test]
    fn one_hot_features_give_entries(shape in std_shapes()) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let n_samples = 50;
        let idx: Vec<Vec<usize>> = (0..n_samples)
            .map(|i| shape.sizes.iter().enumerate().map(|(k, &n)| (i * (k + 3) + i / 3) % n).collect())
            .collect();
        let feats: Vec<Array2<f64>> = shape.sizes.iter().enumerate()
            .map(|(k, &n)| Array2::from_shape_fn((n_samples, n), |(i, j)| if idx[i][k] == j { 1.0 } else { 0.0 }))
            .collect();
        let v = values(&x, &views(&feats), Par::Seq).unwrap();
        for i in 0..n_samples {
            let e = x.entry(&idx[i]).unwrap();
            prop_assert!((v[i] - e).abs() <= 1e-13 * (1.0 + e.abs()));
        }
    }
}

#[test]
fn tt_svd_truncation_and_relative_tolerance() {
    let mut rng = StdRng::seed_from_u64(11);
    let sizes = [4, 3, 5, 2];
    let a = gaussian_vec(120, &mut rng);
    let t = ArrayD::from_shape_vec(IxDyn(&sizes), a.to_vec()).unwrap();
    for eps in [0.5, 0.2, 0.05] {
        let tt = TensorTrain::from_dense(t.view(), &Truncation::relative(eps)).unwrap();
        let err = rel_err(dense(&tt).view(), a.view());
        assert!(err <= eps * (1.0 + 1e-12), "eps {eps}: error {err}");
    }
    let tt = TensorTrain::from_dense(t.view(), &Truncation::max_rank(2)).unwrap();
    assert!(tt.internal_ranks().iter().all(|&r| r <= 2));
    // d = 1: the TT is the vector
    let v = ArrayD::from_shape_vec(IxDyn(&[5]), vec![1.0, -2.0, 3.0, 0.5, 0.0]).unwrap();
    let tt = TensorTrain::from_dense(v.view(), &Truncation::default()).unwrap();
    assert_eq!(tt.ranks(), vec![1, 1]);
    assert_eq!(dense(&tt).to_vec(), vec![1.0, -2.0, 3.0, 0.5, 0.0]);
}

#[test]
fn order_one_and_two_evaluation() {
    let mut rng = StdRng::seed_from_u64(12);
    // d = 1
    let x = random_tt(&[4], &[], &mut rng);
    let f = random_features(&[4], 7, &mut rng);
    let v = values(&x, &views(&f), Par::Seq).unwrap();
    let r = dense_values(&dense(&x), &f);
    assert!(rel_err(v.view(), r.view()) <= 1e-14);
    assert!((x.norm().unwrap() - norm(dense(&x).view())).abs() <= 1e-14);
    assert!((x.dot(&x).unwrap() - dense(&x).dot(&dense(&x))).abs() <= 1e-13);
    // d = 2, full rank
    let x = random_tt(&[3, 4], &[3], &mut rng);
    let f = random_features(&[3, 4], 9, &mut rng);
    let v = values(&x, &views(&f), Par::Rayon(0)).unwrap();
    let r = dense_values(&dense(&x), &f);
    assert!(rel_err(v.view(), r.view()) <= 1e-13);
    // no samples
    let f0 = random_features(&[3, 4], 0, &mut rng);
    assert_eq!(values(&x, &views(&f0), Par::Seq).unwrap().len(), 0);
}

#[test]
fn zeros_constructor() {
    let z = TensorTrain::zeros(&[2, 3, 2], &[2, 2]).unwrap();
    assert_eq!(z.ranks(), vec![1, 2, 2, 1]);
    assert_eq!(z.norm().unwrap(), 0.0);
    assert!(dense(&z).iter().all(|&v| v == 0.0));
    // rounding the zero tensor keeps it zero
    let r = z.round(&Truncation::max_rank(1)).unwrap();
    assert!(dense(&r.tt).iter().all(|&v| v == 0.0));
}

/// Errors, not panics, for invalid cores, ranks, shapes, tolerances and features.
#[test]
fn invalid_inputs_are_errors() {
    let mut rng = StdRng::seed_from_u64(13);
    // cores
    assert!(matches!(
        TensorTrain::from_cores(vec![]),
        Err(TtError::NoCores)
    ));
    assert!(matches!(
        TensorTrain::from_cores(vec![Array3::zeros((1, 2, 2))]),
        Err(TtError::CoreShape { .. })
    ));
    assert!(matches!(
        TensorTrain::from_cores(vec![Array3::zeros((1, 2, 2)), Array3::zeros((3, 2, 1))]),
        Err(TtError::CoreShape { core: 1, .. })
    ));
    assert!(matches!(
        TensorTrain::from_cores(vec![Array3::zeros((1, 2, 0)), Array3::zeros((0, 2, 1))]),
        Err(TtError::CoreShape { .. })
    ));
    let mut inf = Array3::zeros((1, 2, 1));
    inf[[0, 0, 0]] = f64::INFINITY;
    assert!(matches!(
        TensorTrain::from_cores(vec![inf]),
        Err(TtError::NonFinite { .. })
    ));
    // ranks
    assert!(matches!(
        check_ranks(&[2, 2, 2], &[0, 1]),
        Err(TtError::Rank { bond: 1, .. })
    ));
    assert!(matches!(
        check_ranks(&[2, 2, 2], &[2]),
        Err(TtError::Shape(_))
    ));
    assert!(matches!(
        check_ranks(&[2, 2, 2], &[2, 2, 2]),
        Err(TtError::Shape(_))
    ));
    assert!(matches!(check_ranks(&[], &[]), Err(TtError::NoCores)));
    assert!(check_ranks(&[2, 0, 2], &[1, 1]).is_err());
    assert!(matches!(
        check_ranks(&[3, 2, 2], &[3, 1]),
        Err(TtError::Rank { .. })
    ));
    assert!(TensorTrain::zeros(&[2, 2], &[0]).is_err());
    assert!(TensorTrain::zeros(&[2, 2], &[]).is_err());
    assert!(TensorTrain::random(
        &[2, 2, 2],
        &[4, 2],
        CoreDistribution::ScaledNormal,
        &mut rng
    )
    .is_err());
    assert!(TensorTrain::random(
        &[2, 2],
        &[1],
        CoreDistribution::Uniform { lo: 1.0, hi: 0.0 },
        &mut rng
    )
    .is_err());
    assert!(TensorTrain::random(
        &[2, 2],
        &[1],
        CoreDistribution::Normal { std: f64::NAN },
        &mut rng
    )
    .is_err());
    assert!(TensorTrain::random(
        &[2, 2],
        &[1],
        CoreDistribution::Normal { std: -1.0 },
        &mut rng
    )
    .is_err());
    // tolerances and truncation parameters
    let x = random_tt(&[2, 3, 2], &[2, 2], &mut rng);
    for bad in [-1e-3, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            x.round(&Truncation::relative(bad)),
            Err(TtError::Parameter(_))
        ));
        let t = ArrayD::zeros(IxDyn(&[2, 2]));
        assert!(matches!(
            TensorTrain::from_dense(t.view(), &Truncation::relative(bad)),
            Err(TtError::Parameter(_))
        ));
    }
    assert!(matches!(
        x.round(&Truncation::max_rank(0)),
        Err(TtError::Parameter(_))
    ));
    assert!(matches!(
        x.round(&Truncation::ranks(&[2, 0])),
        Err(TtError::Parameter(_))
    ));
    assert!(matches!(
        x.round(&Truncation::ranks(&[2])),
        Err(TtError::Shape(_))
    ));
    assert!(matches!(
        x.round(&Truncation::ranks(&[2, 2, 2])),
        Err(TtError::Shape(_))
    ));
    // dense inputs
    let empty = ArrayD::<f64>::zeros(IxDyn(&[2, 0, 2]));
    assert!(TensorTrain::from_dense(empty.view(), &Truncation::default()).is_err());
    let scalar = ArrayD::<f64>::zeros(IxDyn(&[]));
    assert!(TensorTrain::from_dense(scalar.view(), &Truncation::default()).is_err());
    let mut nan = ArrayD::<f64>::zeros(IxDyn(&[2, 2]));
    nan[[1, 1]] = f64::NAN;
    assert!(matches!(
        TensorTrain::from_dense(nan.view(), &Truncation::default()),
        Err(TtError::NonFinite { .. })
    ));
    // indices and cores
    assert!(x.entry(&[0, 0]).is_err());
    assert!(x.entry(&[0, 3, 0]).is_err());
    assert!(x.entries(Array2::<usize>::zeros((2, 2)).view()).is_err());
    let mut y = x.clone();
    assert!(y.set_core(3, Array3::zeros((2, 2, 1))).is_err());
    assert!(y.set_core(2, Array3::zeros((2, 3, 1))).is_err());
    assert!(y.orthogonalize_to(3).is_err());
    // mode mismatch
    let z = random_tt(&[2, 2, 2], &[2, 2], &mut rng);
    assert!(x.dot(&z).is_err());
    assert!(x.add(&z).is_err());
    // features: count, rows, columns
    let f = random_features(&[2, 3, 2], 5, &mut rng);
    let fv = views(&f);
    assert!(matches!(
        values(&x, &fv[..2], Par::Seq),
        Err(TtError::Shape(_))
    ));
    let mut fbad = f.clone();
    fbad[1] = gaussian((5, 4), &mut rng);
    assert!(matches!(
        values(&x, &views(&fbad), Par::Seq),
        Err(TtError::Shape(_))
    ));
    assert!(left_interfaces(&x, &views(&fbad), Par::Seq).is_err());
    assert!(right_interfaces(&x, &views(&fbad), Par::Seq).is_err());
    let mut frows = f.clone();
    frows[2] = gaussian((4, 2), &mut rng);
    assert!(matches!(
        values(&x, &views(&frows), Par::Rayon(0)),
        Err(TtError::Shape(_))
    ));
    assert!(left_interfaces(&x, &views(&frows), Par::Seq).is_err());
    assert!(right_interfaces(&x, &views(&frows), Par::Seq).is_err());
    let too_many: Vec<Array2<f64>> = vec![gaussian((5, 2), &mut rng); 4];
    assert!(values(&x, &views(&too_many), Par::Seq).is_err());
    let none: Vec<ndarray::ArrayView2<'_, f64>> = vec![];
    assert!(values(&x, &none, Par::Seq).is_err());
}

/// Cores in a non-standard memory layout are accepted and behave like C-order ones.
#[test]
fn fortran_order_cores_are_accepted() {
    let mut rng = StdRng::seed_from_u64(14);
    let x = random_tt(&[3, 4, 2], &[2, 2], &mut rng);
    let cores: Vec<Array3<f64>> = x
        .cores()
        .iter()
        .map(|c| {
            let mut f = Array3::zeros(c.raw_dim().f());
            f.assign(c);
            f
        })
        .collect();
    let y = TensorTrain::from_cores(cores).unwrap();
    assert!(rel_err(dense(&y).view(), dense(&x).view()) <= 1e-15);
    let mut z = y.clone();
    z.left_orthogonalize().unwrap();
    assert!(rel_err(dense(&z).view(), dense(&x).view()) <= 1e-13);
    let f = random_features(&[3, 4, 2], 5, &mut rng);
    let v = values(&y, &views(&f), Par::Seq).unwrap();
    assert!(rel_err(v.view(), dense_values(&dense(&x), &f).view()) <= 1e-13);
    let mut w = x.clone();
    let mut fcore = Array3::zeros((2, 4, 2).f());
    fcore.assign(&x.cores()[1]);
    w.set_core(1, fcore).unwrap();
    w.right_orthogonalize().unwrap();
    assert!(rel_err(dense(&w).view(), dense(&x).view()) <= 1e-13);
    let _ = Array1::<f64>::zeros(1);
}
