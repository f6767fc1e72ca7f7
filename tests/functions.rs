//! Integration tests of the built-in test functions: reference values computed independently
//! (by hand / a separate Python evaluation of the published formulas), parsing, sampling.

use ndarray::{array, Array1, Array2};
use std::f64::consts::PI;
use ttfit::functions::{genz_coefficients, list, TestFunction};
use ttfit::Error;

fn centre(f: TestFunction) -> Array1<f64> {
    f.domain().iter().map(|(lo, hi)| 0.5 * (lo + hi)).collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn engineering_functions_at_reference_points() {
    // Reference values from an independent Python evaluation of the SFU formulas.
    let cases = [
        (TestFunction::Borehole, 70.87291263681897),
        (TestFunction::OtlCircuit, 5.310616942188329),
        (TestFunction::Piston, 0.4643970224718025),
    ];
    for (f, want) in cases {
        let v = f.eval_point(centre(f).view()).unwrap();
        assert!(close(v, want, 1e-13), "{f} at centre: {v} vs {want}");
    }
    // Borehole at the lower corner of its box.
    let lo: Array1<f64> = TestFunction::Borehole
        .domain()
        .iter()
        .map(|b| b.0)
        .collect();
    let v = TestFunction::Borehole.eval_point(lo.view()).unwrap();
    assert!(close(v, 20.01478331243087, 1e-13), "{v}");
    // Borehole at the centre by hand: ln(r/rw) = ln(250500), every factor written out.
    let lr = 250500f64.ln();
    let hand = 2.0 * PI * 89335.0 * 290.0
        / (lr * (1.0 + 2.0 * 1400.0 * 89335.0 / (lr * 0.01 * 10950.0) + 89335.0 / 89.55));
    assert!(close(hand, 70.87291263681897, 1e-14));
}

#[test]
fn analytic_functions_at_reference_points() {
    let ish = TestFunction::Ishigami;
    let v = ish
        .eval(
            array![
                [0.0, 0.0, 0.0],
                [PI / 2.0, PI / 2.0, 0.0],
                [PI / 2.0, 0.0, PI],
                [-PI / 2.0, PI, 1.0]
            ]
            .view(),
        )
        .unwrap();
    // sin(pi/2) + 7 sin^2(pi/2) = 8; sin(pi/2)(1 + 0.1 pi^4) = 1 + 0.1 pi^4; -(1 + 0.1) + 7 sin^2(pi).
    let want = [0.0, 8.0, 1.0 + 0.1 * PI.powi(4), -1.1];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-13, "{a} vs {b}");
    }

    let fr = TestFunction::Friedman;
    let v = fr
        .eval(array![[0.5; 5], [0.0; 5], [1.0; 5]].view())
        .unwrap();
    // 10 sin(pi/4) + 0 + 5 + 2.5; 0 + 5 + 0 + 0; 10 sin(pi) + 5 + 10 + 5.
    let want = [10.0 * (PI / 4.0).sin() + 7.5, 5.0, 20.0];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    for d in [1, 3, 10, 50] {
        let a = genz_coefficients(d, 9.0);
        assert!((a.iter().sum::<f64>() - 9.0).abs() < 1e-12);
        assert!(a.windows(2).all(|w| w[0] > w[1]));
        let osc = TestFunction::GenzOscillatory { d };
        let cp = TestFunction::GenzCornerPeak { d };
        let ss = TestFunction::SinOfSum { d };
        let zeros = Array2::zeros((1, d));
        let ones = Array2::ones((1, d));
        // cos(2 pi 0.5 + 0) = -1; cos(pi + 9) at the far corner (sum a_i = 9).
        assert!((osc.eval(zeros.view()).unwrap()[0] + 1.0).abs() < 1e-15);
        assert!((osc.eval(ones.view()).unwrap()[0] - (PI + 9.0).cos()).abs() < 1e-12);
        // (1 + 0)^-(d+1) = 1; (1 + 1.85)^-(d+1) at the far corner.
        assert!((cp.eval(zeros.view()).unwrap()[0] - 1.0).abs() < 1e-15);
        let want = 2.85f64.powi(-(d as i32 + 1));
        assert!(close(cp.eval(ones.view()).unwrap()[0], want, 1e-12));
        // sin(d * 1) and sin(0).
        assert!((ss.eval(ones.view()).unwrap()[0] - (d as f64).sin()).abs() < 1e-12);
        assert_eq!(ss.eval(zeros.view()).unwrap()[0], 0.0);
    }
    // Genz oscillatory at x = e_1: cos(pi + a_1), a_1 = 9 / H_d.
    let d = 4;
    let h = 1.0 + 0.5 + 1.0 / 3.0 + 0.25;
    let mut x = Array2::zeros((1, d));
    x[[0, 0]] = 1.0;
    let v = TestFunction::GenzOscillatory { d }.eval(x.view()).unwrap()[0];
    assert!((v - (PI + 9.0 / h).cos()).abs() < 1e-13);
}

#[test]
fn metadata_and_parsing() {
    let cases = [
        ("borehole", TestFunction::Borehole, 8),
        ("otl", TestFunction::OtlCircuit, 6),
        ("OTL-circuit", TestFunction::OtlCircuit, 6),
        ("piston", TestFunction::Piston, 7),
        ("ishigami", TestFunction::Ishigami, 3),
        (" Friedman ", TestFunction::Friedman, 5),
        (
            "genz-oscillatory:10",
            TestFunction::GenzOscillatory { d: 10 },
            10,
        ),
        (
            "genz-corner-peak:3",
            TestFunction::GenzCornerPeak { d: 3 },
            3,
        ),
        ("sin-sum:20", TestFunction::SinOfSum { d: 20 }, 20),
        ("sin-sum", TestFunction::SinOfSum { d: 10 }, 10),
    ];
    for (s, want, d) in cases {
        let f = TestFunction::parse(s).unwrap();
        assert_eq!(f, want, "{s}");
        assert_eq!(f.dim(), d);
        assert_eq!(f.domain().len(), d);
        assert_eq!(f.input_names().len(), d);
        assert!(f.domain().iter().all(|(lo, hi)| lo < hi));
        assert_eq!(f.to_string().parse::<TestFunction>().unwrap(), f);
    }
    assert_eq!(TestFunction::Borehole.input_names()[0], "rw");
    assert_eq!(TestFunction::Borehole.domain()[1], (100.0, 50000.0));
    assert_eq!(TestFunction::Ishigami.domain()[2], (-PI, PI));
    for (s, needle) in [
        ("rosenbrock", "available"),
        ("borehole:8", "fixed dimension"),
        ("sin-sum:0", "between 1 and"),
        ("genz-oscillatory:x", "between 1 and"),
    ] {
        match TestFunction::parse(s) {
            Err(e @ Error::InvalidParameter { .. }) => {
                assert!(e.to_string().contains(needle), "{s}: {e}")
            }
            other => panic!("{s}: {other:?}"),
        }
    }
    // Every listed spec parses.
    for (spec, _) in list() {
        let s = spec.replace("[:D]", "");
        assert!(TestFunction::parse(&s).is_ok(), "{spec}");
    }
    // Wrong number of columns.
    assert!(TestFunction::Piston
        .eval(Array2::zeros((2, 3)).view())
        .is_err());
}

#[test]
fn sampling_is_seeded_and_inside_the_domain() {
    for f in [
        TestFunction::Borehole,
        TestFunction::OtlCircuit,
        TestFunction::Piston,
        TestFunction::Ishigami,
        TestFunction::Friedman,
        TestFunction::GenzOscillatory { d: 6 },
        TestFunction::GenzCornerPeak { d: 6 },
        TestFunction::SinOfSum { d: 12 },
    ] {
        let a = f.sample(200, 42).unwrap();
        let b = f.sample(200, 42).unwrap();
        let c = f.sample(200, 43).unwrap();
        assert_eq!(a, b, "{f}: same seed, same sample");
        assert_ne!(a.x, c.x, "{f}: another seed, another sample");
        assert_eq!(a.x.dim(), (200, f.dim()));
        assert_eq!(a.input_names, f.input_names());
        assert_eq!(a.target_name, f.name());
        assert_eq!(a.y, f.eval(a.x.view()).unwrap());
        assert!(a.y.iter().all(|v| v.is_finite()));
        for (k, (lo, hi)) in f.domain().into_iter().enumerate() {
            let col = a.x.column(k);
            assert!(col.iter().all(|&v| lo <= v && v <= hi), "{f} variable {k}");
            // Spread over the interval (uniform sampling, 200 draws).
            let min = col.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert!(
                min < lo + 0.1 * (hi - lo) && max > hi - 0.1 * (hi - lo),
                "{f} variable {k}"
            );
        }
    }
    assert!(TestFunction::Ishigami.sample(0, 1).is_err());
}
