//! Checkpoint and resume (issue 9 item 4): for every optimizer, full batch and mini-batch, a
//! run interrupted after iteration 3, written to a checkpoint file and resumed to the same
//! budget gives bit for bit the uninterrupted run's iterate and losses.

mod common;

use common::{features, uniform_points};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;
use ttfit::checkpoint::Checkpoint;
use ttfit::optim::OptimizerConfig;
use ttfit::samples::SampleSet;
use ttfit::train::{IterationRecord, StopReason, StoppingRules, Trainer};

fn problem() -> (SampleSet, TensorTrain) {
    let mut rng = StdRng::seed_from_u64(3);
    let (d, n) = (4, 4);
    let truth = TensorTrain::random(
        &[n; 4],
        &[2; 3],
        tensor_train::CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let x = uniform_points(&mut rng, 600, d);
    let feats = features(&x, n);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = truth.eval_features(&views, Par::Seq).unwrap();
    let data = SampleSet::new(feats, y, None).unwrap();
    let x0 = ttfit::init::initial_tt(&data, &[2; 3], &ttfit::init::Start::default(), 1).unwrap();
    (data, x0)
}

fn configs() -> Vec<(String, OptimizerConfig)> {
    let mut out = Vec::new();
    for name in [
        "als",
        "rgd",
        "rcg",
        "gd",
        "ngd",
        "ngd-pop",
        "ngd-hb",
        "ngd-nesterov",
        "ngd-hb-pop",
        "ngd-nesterov-pop",
    ] {
        out.push((name.to_string(), OptimizerConfig::from_name(name).unwrap()));
    }
    for name in ["ngd", "ngd-hb", "ngd-nesterov"] {
        let mut oc = OptimizerConfig::from_name(name).unwrap();
        match &mut oc {
            OptimizerConfig::Ngd(c) => c.batch_size = Some(200),
            OptimizerConfig::Momentum(c) => c.natural.batch_size = Some(200),
            _ => unreachable!(),
        }
        out.push((format!("{name}-mb200"), oc));
    }
    out
}

fn rules() -> StoppingRules {
    StoppingRules {
        max_iter: 8,
        rel_tol: 0.0,
        ..Default::default()
    }
}

#[test]
fn resumed_runs_equal_uninterrupted_runs_bit_for_bit() {
    let (data, x0) = problem();
    let dir = std::env::temp_dir().join(format!("ttfit-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, oc) in configs() {
        let full = Trainer::new(rules())
            .par(Par::Seq)
            .seed(7)
            .run(oc.build().unwrap().as_mut(), x0.clone(), &data, None, None)
            .unwrap();
        // interrupted after iteration 3 (the flag is raised by an observer)
        let path = dir.join(format!("{name}.json"));
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let first = Trainer::new(rules())
            .par(Par::Seq)
            .seed(7)
            .observe(move |r: &IterationRecord| {
                if r.iteration == 3 {
                    f.store(true, Ordering::SeqCst)
                }
            })
            .checkpoint(path.clone(), 100, serde_json::json!({ "optimizer": name }))
            .interrupt(flag)
            .run(oc.build().unwrap().as_mut(), x0.clone(), &data, None, None)
            .unwrap();
        assert_eq!(first.stop, StopReason::Interrupted, "{name}");
        assert_eq!(first.history.len(), 4, "{name}");
        let ck = Checkpoint::read(&path).unwrap();
        assert_eq!(ck.state.iteration, 3, "{name}");
        // a fresh optimizer and trainer; x0 is ignored on resume
        let resumed = Trainer::new(rules())
            .par(Par::Seq)
            .seed(7)
            .resume(ck.state)
            .run(oc.build().unwrap().as_mut(), x0.clone(), &data, None, None)
            .unwrap();
        assert_eq!(resumed.stop, full.stop, "{name}");
        assert_eq!(resumed.history.len(), full.history.len(), "{name}");
        for (a, b) in resumed.history.iter().zip(&full.history) {
            assert_eq!(
                a.train_loss.to_bits(),
                b.train_loss.to_bits(),
                "{name}: iteration {}",
                a.iteration
            );
        }
        assert_eq!(
            resumed.tt.cores(),
            full.tt.cores(),
            "{name}: final iterate differs"
        );
        assert_eq!(resumed.restarts, full.restarts, "{name}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_of_another_optimizer_is_refused() {
    let (data, x0) = problem();
    let dir = std::env::temp_dir().join(format!("ttfit-ckpt-x-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hb.json");
    let oc = OptimizerConfig::from_name("ngd-hb").unwrap();
    Trainer::new(StoppingRules {
        max_iter: 2,
        rel_tol: 0.0,
        ..Default::default()
    })
    .par(Par::Seq)
    .checkpoint(path.clone(), 1, serde_json::Value::Null)
    .run(oc.build().unwrap().as_mut(), x0.clone(), &data, None, None)
    .unwrap();
    let ck = Checkpoint::read(&path).unwrap();
    let rcg = OptimizerConfig::from_name("rcg").unwrap();
    let err = Trainer::new(rules())
        .par(Par::Seq)
        .resume(ck.state)
        .run(rcg.build().unwrap().as_mut(), x0, &data, None, None)
        .unwrap_err();
    assert!(err.to_string().contains("cannot be restored"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `TtData` restores exact cores and the gauge; a false gauge claim is refused.
#[test]
fn tt_data_round_trips_cores_and_checked_gauge() {
    let mut rng = StdRng::seed_from_u64(1);
    let tt = TensorTrain::random(
        &[3; 4],
        &[2; 3],
        tensor_train::CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let left = tt.to_left_orthogonal().unwrap();
    let data = ttfit::optim::state::TtData::from_tt(&left);
    let json = serde_json::to_string(&data).unwrap();
    let back: ttfit::optim::state::TtData = serde_json::from_str(&json).unwrap();
    let restored = back.to_tt().unwrap();
    assert_eq!(restored, left, "cores or gauge changed");
    let mut lie = ttfit::optim::state::TtData::from_tt(&tt);
    lie.gauge = Some(left.gauge());
    let err = lie.to_tt().unwrap_err();
    assert!(err.to_string().contains("not orthogonal"), "{err}");
}
