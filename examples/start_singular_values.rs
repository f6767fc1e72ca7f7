//! Smallest bond singular values of the start points (issue 11, why Gauss–Newton degrades with
//! `d` from the additive start): for Genz oscillatory in `d` variables, `legendre:6` features,
//! 20,000 samples (seed 1) and rank `r`, print, for [`Start::Additive`], [`Start::Greedy`] and
//! [`Start::Random`], the smallest singular value `sigma_r` of every bond unfolding relative
//! to `||X0||`, and the start's relative training error.
//!
//! `sigma_r` at bond `k` is exact: the TT rounding right-orthogonalizes, then truncates bond by
//! bond from the left, so rounding to ranks `(r, .., r - 1 at bond k, .., r)` discards exactly
//! `sigma_r` of bond `k` (the bonds before it are not truncated).
//!
//! Run: `cargo run --release --example start_singular_values -- [d=10,20,50] [r=4]`

use tensor_train::Truncation;
use ttfit::basis::{Basis, FeatureMap, InputMap, OutsidePolicy};
use ttfit::functions::TestFunction;
use ttfit::init::{initial_tt, Start};

fn main() -> ttfit::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let parse = |i: usize, what: &str| -> ttfit::Result<Option<Vec<usize>>> {
        args.get(i)
            .map(|s| {
                s.split(',')
                    .map(|v| {
                        v.trim().parse::<usize>().map_err(|_| {
                            ttfit::Error::param(what, format!("expected a number, got {v:?}"))
                        })
                    })
                    .collect()
            })
            .transpose()
    };
    let dims = parse(1, "d")?.unwrap_or_else(|| vec![10, 20, 50]);
    let r = parse(2, "r")?.and_then(|v| v.first().copied()).unwrap_or(4);
    if r < 2 || dims.iter().any(|&d| d < 2) {
        return Err(ttfit::Error::param("r, d", "need r >= 2 and d >= 2"));
    }
    println!("| d | r | start | min_k sigma_r / ||X0|| | max_k sigma_r / ||X0|| | train error |");
    println!("|---|---|---|---|---|---|");
    for d in dims {
        let f = TestFunction::parse(&format!("genz-oscillatory:{d}"))?;
        let train = f.sample(20_000, 1)?;
        let fmap = FeatureMap::with_basis(
            Basis::Legendre { n: 6 },
            f.domain()
                .iter()
                .map(|&(a, b)| InputMap::interval(a, b))
                .collect(),
            train.input_names.clone(),
        )?;
        let set = ttfit::model::sample_set(&fmap, &train, OutsidePolicy::Extrapolate)?;
        let feats: Vec<_> = fmap.features(train.x.view(), OutsidePolicy::Extrapolate)?;
        let views: Vec<_> = feats.iter().map(|a| a.view()).collect();
        for (name, kind) in [
            ("additive", Start::Additive),
            ("greedy", Start::Greedy),
            ("random", Start::Random { scale: 1.0 }),
        ] {
            let x = initial_tt(&set, &vec![r; d - 1], &kind, 1)?;
            let norm = x.norm()?;
            let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
            for k in 0..d - 1 {
                let mut ranks = x.internal_ranks();
                ranks[k] -= 1;
                let cut = x.round(&Truncation::ranks(&ranks))?;
                let s = cut.discarded[k].iter().fold(0.0f64, |a, &b| a.max(b)) / norm;
                lo = lo.min(s);
                hi = hi.max(s);
            }
            let pred = x.eval_features(&views, tensor_train::linalg::Par::Seq)?;
            let err = (&pred - &train.y).mapv(|e| e * e).sum().sqrt()
                / train.y.mapv(|v| v * v).sum().sqrt();
            println!("| {d} | {r} | {name} | {lo:.2e} | {hi:.2e} | {err:.3e} |");
        }
    }
    Ok(())
}
