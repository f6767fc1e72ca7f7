//! Issue "foundation": orthogonalization (gauge) and TT rounding.

mod common;

use common::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor_train::{Gauge, TensorTrain, Truncation};

/// Check the mixed canonical form at `c`: cores `< c` left-orthogonal, cores `> c`
/// right-orthogonal, the recorded gauge, and `||S_c|| = ||X||`.
fn assert_mixed(
    t: &TensorTrain,
    c: usize,
    reference: &ndarray::Array1<f64>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(t.gauge(), Gauge::Mixed { center: c });
    let le = t.left_orthogonality_error(c);
    let re = t.right_orthogonality_error(c + 1);
    prop_assert!(le <= 1e-12, "left orthogonality error {le:e} at centre {c}");
    prop_assert!(
        re <= 1e-12,
        "right orthogonality error {re:e} at centre {c}"
    );
    prop_assert!(rel_err(dense(t).view(), reference.view()) <= 1e-12);
    let centre = t.cores()[c].iter().map(|x| x * x).sum::<f64>().sqrt();
    prop_assert!((centre - norm(reference.view())).abs() <= 1e-12 * norm(reference.view()));
    Ok(())
}

proptest! {
    #![proptest_config(config(32, 0x5eed_0002))]

    /// Left/right orthogonalization: orthonormal unfoldings, tensor unchanged, `||S_k|| = ||X||`
    /// at every centre, and `orthogonalize_to` from every recorded gauge.
    #[test]
    fn orthogonalization(shape in std_shapes(), centres in proptest::collection::vec(0usize..6, 4)) {
        let mut rng = shape.rng();
        let d = shape.d();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let xd = dense(&x);
        let l = x.to_left_orthogonal().unwrap();
        assert_mixed(&l, d - 1, &xd)?;
        let r = x.to_right_orthogonal().unwrap();
        assert_mixed(&r, 0, &xd)?;
        for c in 0..d {
            // from no gauge, from the left form, from the right form
            for start in [&x, &l, &r] {
                let mut t = start.clone();
                t.orthogonalize_to(c).unwrap();
                assert_mixed(&t, c, &xd)?;
            }
        }
        // a chain of moves, each starting from the previous recorded gauge
        let mut t = x.clone();
        for &c in &centres {
            let c = c % d;
            t.orthogonalize_to(c).unwrap();
            assert_mixed(&t, c, &xd)?;
        }
        // scaling keeps the gauge
        let mut s = t.clone();
        s.scale(2.5);
        prop_assert_eq!(s.gauge(), t.gauge());
        prop_assert!(rel_err(dense(&s).view(), (&xd * 2.5).view()) <= 1e-13);
        // min singular values agree with dense SVDs of the unfoldings
        let smin = x.min_singular_values().unwrap();
        for k in 1..d {
            let sv = singular_values(&unfolding(&xd, &shape.sizes, k));
            let want = sv[shape.ranks[k - 1] - 1];
            prop_assert!((smin[k - 1] - want).abs() <= 1e-10 * sv[0], "bond {k}: {} vs {}", smin[k - 1], want);
        }
    }

    /// Quasi-optimality of rounding (Oseledets 2011):
    /// `max_k eps_k <= ||Y - H_r(Y)|| <= sqrt(sum_k eps_k^2)` with `eps_k` from dense SVDs.
    #[test]
    fn rounding_error_bounds(shape in std_shapes(), target in proptest::collection::vec(1usize..=4, 5), plus in 1usize..=3) {
        let mut rng = shape.rng();
        let d = shape.d();
        // Y: a sum of TTs (ranks add, possibly inadmissible), so the target ranks truncate
        let mut y = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        for _ in 0..plus {
            let extra = random_tt(&shape.sizes, &shape.ranks, &mut rng);
            y = y.add(&extra).unwrap();
        }
        let yd = dense(&y);
        let r = tensor_train::clamp_ranks(&shape.sizes, &target[..d - 1]);
        let rounded = y.round(&Truncation::ranks(&r)).unwrap();
        let h = &rounded.tt;
        prop_assert_eq!(h.gauge(), Gauge::Mixed { center: d - 1 });
        prop_assert!(h.left_orthogonality_error(d - 1) <= 1e-12);
        prop_assert!(h.internal_ranks().iter().zip(&r).all(|(a, b)| a <= b));
        let err = norm((&dense(h) - &yd).view());
        let eps: Vec<f64> = (1..d)
            .map(|k| tail(&singular_values(&unfolding(&yd, &shape.sizes, k)), r[k - 1]))
            .collect();
        let lower = eps.iter().cloned().fold(0.0, f64::max);
        let upper = eps.iter().map(|e| e * e).sum::<f64>().sqrt();
        let ny = norm(yd.view());
        prop_assert!(lower <= err + 1e-12 * ny, "max eps_k {lower:e} > error {err:e}");
        prop_assert!(err <= upper * (1.0 + 1e-10) + 1e-13 * ny, "error {err:e} > bound {upper:e}");
        // the reported bound is the exact error (the input is right-orthogonalized first)
        prop_assert!((rounded.error_bound() - err).abs() <= 1e-10 * ny, "{} vs {}", rounded.error_bound(), err);
        prop_assert_eq!(rounded.discarded.len(), d - 1);
    }

    /// Relative tolerance: `||Y - H(Y)|| <= eps ||Y||`, with and without rank caps.
    #[test]
    fn rounding_relative_tolerance(shape in std_shapes(), eps in prop_oneof![Just(0.0), 1e-3f64..0.9]) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let y = x.add(&random_tt(&shape.sizes, &shape.ranks, &mut rng)).unwrap();
        let yd = dense(&y);
        let h = y.round(&Truncation::relative(eps)).unwrap().tt;
        let err = norm((&dense(&h) - &yd).view());
        prop_assert!(err <= eps * norm(yd.view()) * (1.0 + 1e-10) + 1e-13 * norm(yd.view()));
        let capped = y.round(&Truncation::max_rank(2).with_rel_tol(eps)).unwrap().tt;
        prop_assert!(capped.max_rank() <= 2);
    }

    /// Rounding a TT whose ranks are already <= the target returns the same tensor.
    #[test]
    fn rounding_is_identity_below_target(shape in std_shapes(), slack in 0usize..3) {
        let mut rng = shape.rng();
        let x = random_tt(&shape.sizes, &shape.ranks, &mut rng);
        let xd = dense(&x);
        let caps: Vec<usize> = shape.ranks.iter().map(|r| r + slack).collect();
        for trunc in [Truncation::ranks(&caps), Truncation::max_rank(4 + slack), Truncation::default()] {
            let h = x.round(&trunc).unwrap().tt;
            prop_assert!(rel_err(dense(&h).view(), xd.view()) <= 1e-12);
            prop_assert!(h.internal_ranks().iter().zip(&shape.ranks).all(|(a, b)| a <= b));
        }
        // X + X has ranks 2r but tensor rank r: rounding to r reproduces 2X exactly
        let y = x.add(&x).unwrap();
        let h = y.round(&Truncation::ranks(&shape.ranks)).unwrap();
        prop_assert!(rel_err(dense(&h.tt).view(), (&xd * 2.0).view()) <= 1e-12);
        prop_assert!(h.error_bound() <= 1e-12 * norm(xd.view()));
        // the same from a right-orthogonal input (the sweep is skipped)
        let r = x.to_right_orthogonal().unwrap();
        let h = r.round(&Truncation::ranks(&shape.ranks)).unwrap().tt;
        prop_assert!(rel_err(dense(&h).view(), xd.view()) <= 1e-12);
    }
}

#[test]
fn rounding_of_order_one_and_two() {
    let mut rng = StdRng::seed_from_u64(21);
    let x = random_tt(&[5], &[], &mut rng);
    let h = x.round(&Truncation::relative(0.1)).unwrap().tt;
    assert!(rel_err(dense(&h).view(), dense(&x).view()) <= 1e-15);
    // d = 2 is the matrix SVD: error is exactly the tail of the singular values
    let y = random_tt(&[5, 4], &[4], &mut rng);
    let yd = dense(&y);
    let s = singular_values(&unfolding(&yd, &[5, 4], 1));
    for r in 1..=4 {
        let h = y.round(&Truncation::max_rank(r)).unwrap();
        let err = norm((&dense(&h.tt) - &yd).view());
        assert!(
            (err - tail(&s, r)).abs() <= 1e-12 * s[0],
            "rank {r}: {err} vs {}",
            tail(&s, r)
        );
        assert!((h.error_bound() - err).abs() <= 1e-12 * s[0]);
    }
}

#[test]
fn gauge_of_order_one() {
    let mut rng = StdRng::seed_from_u64(22);
    let mut x = random_tt(&[3], &[], &mut rng);
    let xd = dense(&x);
    x.left_orthogonalize().unwrap();
    assert_eq!(x.gauge(), Gauge::Mixed { center: 0 });
    assert_eq!(dense(&x), xd);
    assert!(x.min_singular_values().unwrap().is_empty());
}
