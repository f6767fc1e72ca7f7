//! Rank continuation (`ttfit::learn::continuation`): the ranks grow from the start's to the
//! target's, and the fit reaches the dense least-squares optimum where the target ranks span
//! the whole tensor space; at a target equal to the start's ranks it is the plain optimizer.

mod common;

use common::{features, uniform_points};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use ttfit::init::{initial_tt, Start};
use ttfit::learn::continuation::{Continuation, RankContinuation};
use ttfit::optim::{predict, OptimizerConfig};
use ttfit::samples::SampleSet;
use ttfit::tensor_train::linalg::{self, Par};
use ttfit::train::{StoppingRules, Trainer};

/// `count` samples of a function that is not of low rank in 3 variables, on 3 Legendre
/// features per variable, with its points.
fn problem(count: usize, seed: u64) -> (SampleSet, Array2<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = uniform_points(&mut rng, count, 3);
    let y = Array1::from_iter(x.rows().into_iter().map(|p| {
        (p[0] * p[1] * p[2]).exp() + (p[0] + 2.0 * p[1]).sin() * p[2] + 0.3 * (p[1] - p[2]).powi(2)
    }));
    (SampleSet::new(features(&x, 3), y, None).unwrap(), x)
}

/// The full tensor-product design `Phi[i, (a n + b) n + c] = phi_a(x_i1) phi_b(x_i2)
/// phi_c(x_i3)` (27 columns).
fn design(data: &SampleSet) -> Array2<f64> {
    let f = data.feature_views();
    let n = 3;
    Array2::from_shape_fn((data.len(), n * n * n), |(i, j)| {
        f[0][[i, j / (n * n)]] * f[1][[i, (j / n) % n]] * f[2][[i, j % n]]
    })
}

fn ngd_config() -> OptimizerConfig {
    OptimizerConfig::from_name("ngd").unwrap()
}

fn rules(max_iter: usize) -> StoppingRules {
    StoppingRules {
        max_iter,
        rel_tol: 0.0,
        ..StoppingRules::default()
    }
}

/// From the additive start at ranks (2, 2), continuation to ranks (3, 3) (the largest
/// admissible: the manifold is open and dense in the 27-dimensional tensor space) must end at
/// the dense least-squares fit over all 27 coefficients. Without the rank move the fit stays
/// at rank 2 and cannot: the rank-2 optimum's loss is checked to be well above the dense one.
#[test]
fn continuation_reaches_the_dense_least_squares_fit() {
    let (train, _) = problem(400, 1);
    let (test, _) = problem(200, 2);
    let phi = design(&train);
    let y = train.targets().to_owned();
    let coef = linalg::lstsq(phi.view(), y.view().insert_axis(ndarray::Axis(1))).unwrap();
    let dense_pred = design(&test).dot(&coef.column(0));
    let residual = &phi.dot(&coef.column(0)) - &y;
    let dense_loss = residual.dot(&residual) / (2.0 * train.len() as f64);

    let x0 = initial_tt(&train, &[2, 2], &Start::Additive, 1).unwrap();
    assert_eq!(x0.internal_ranks(), vec![2, 2]);
    let cfg = ngd_config();
    let mut opt = Continuation::new(
        cfg.build().unwrap(),
        cfg,
        vec![3, 3],
        &RankContinuation::default(),
    )
    .unwrap();
    let run = Trainer::new(rules(40))
        .par(Par::Seq)
        .seed(3)
        .run(&mut opt, x0.clone(), &train, None, None)
        .unwrap();
    assert_eq!(run.tt.internal_ranks(), vec![3, 3]);
    let moves: Vec<usize> = run
        .history
        .iter()
        .filter(|h| {
            h.step
                .note
                .as_deref()
                .is_some_and(|n| n.contains("rank move"))
        })
        .map(|h| h.iteration)
        .collect();
    assert_eq!(
        moves.len(),
        1,
        "one rank move from (2, 2) to (3, 3): {moves:?}"
    );
    // the move (here after the first step, which gains 8.8 % < 10 %) did not raise the loss
    let k = moves[0];
    assert!(run.history[k].train_loss <= run.history[k - 1].train_loss);
    // the note's two gains are the recorded losses: L_k = L_{k-1} (1 - step gain)(1 - move
    // gain); both are printed with two significant digits, hence the 2 % tolerance
    let note = run.history[k].step.note.clone().unwrap();
    let num_after = |key: &str| -> f64 {
        let rest = &note[note.find(key).unwrap() + key.len()..];
        let end = rest.find([' ', ')', ';']).unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    let (step_gain, move_gain) = (num_after("the step gained "), num_after("the move gained "));
    assert!(move_gain > 0.0, "{note}");
    let predicted = run.history[k - 1].train_loss * (1.0 - step_gain) * (1.0 - move_gain);
    assert!(
        (predicted - run.history[k].train_loss).abs() <= 0.02 * run.history[k].train_loss,
        "{note}: {predicted:e} against the recorded {:e}",
        run.history[k].train_loss
    );

    let last = run.history.last().unwrap().train_loss;
    assert!(
        (last - dense_loss).abs() <= 1e-8 * dense_loss,
        "loss {last:e} against the dense least-squares optimum {dense_loss:e}"
    );
    let pred = predict(&run.tt, &test, Par::Seq).unwrap();
    let dev = (&pred - &dense_pred)
        .iter()
        .map(|v| v.abs())
        .fold(0.0, f64::max)
        / dense_pred.iter().map(|v| v.abs()).fold(0.0, f64::max);
    assert!(
        dev < 1e-5,
        "test predictions deviate by {dev:e} from the dense fit"
    );

    // the control: the same optimizer without rank moves stays visibly above the optimum
    let mut plain = ngd_config().build().unwrap();
    let fixed = Trainer::new(rules(40))
        .par(Par::Seq)
        .seed(3)
        .run(plain.as_mut(), x0, &train, None, None)
        .unwrap();
    let fixed_loss = fixed.history.last().unwrap().train_loss;
    assert!(
        fixed_loss > 1.1 * dense_loss,
        "rank 2 reaches {fixed_loss:e}, the dense optimum {dense_loss:e}: the test cannot tell"
    );
}

/// At a target equal to the start's ranks there is nothing to grow: the wrapped optimizer
/// (here with momentum, whose state the wrapper passes through) gives the same iterates, bit
/// for bit.
#[test]
fn continuation_at_the_start_ranks_is_the_plain_optimizer() {
    let (train, _) = problem(300, 4);
    let x0 = initial_tt(&train, &[2, 2], &Start::Additive, 1).unwrap();
    let cfg = OptimizerConfig::from_name("ngd-nesterov").unwrap();
    let mut wrapped = Continuation::new(
        cfg.build().unwrap(),
        cfg.clone(),
        vec![2, 2],
        &RankContinuation::default(),
    )
    .unwrap();
    let a = Trainer::new(rules(8))
        .par(Par::Seq)
        .run(&mut wrapped, x0.clone(), &train, None, None)
        .unwrap();
    let mut plain = cfg.build().unwrap();
    let b = Trainer::new(rules(8))
        .par(Par::Seq)
        .run(plain.as_mut(), x0, &train, None, None)
        .unwrap();
    assert_eq!(a.history.len(), b.history.len());
    for (p, q) in a.history.iter().zip(&b.history) {
        assert_eq!(p.train_loss.to_bits(), q.train_loss.to_bits());
    }
    assert_eq!(
        a.tt.to_dense().unwrap(),
        b.tt.to_dense().unwrap(),
        "same final tensor"
    );
}

/// Out-of-range stall tolerances are refused with a message naming the setting.
#[test]
fn continuation_rejects_bad_tolerances() {
    for tol in [0.0, 1.0, -0.5, f64::NAN] {
        let err = RankContinuation { stall_tol: tol }.validate().unwrap_err();
        assert!(err.to_string().contains("stall tolerance"), "{err}");
    }
}
