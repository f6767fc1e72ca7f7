//! Pre-flight checks before any large allocation: an estimate of the memory a command needs,
//! compared with the memory available, so that a run too large for the machine ends with a
//! clear error (exit 2) instead of "memory allocation of N bytes failed" (an abort).
//!
//! The estimates count the largest dense arrays of each stage (MATH.md's notation: `N`
//! samples, `d` inputs, `n_k` features, `D` tangent dimension ~ number of parameters):
//! feature matrices `N sum n_k`; the additive start's normal equations, `m^2` with
//! `m = 1 + sum (n_k - 1)`, in 8 accumulation blocks; the natural gradient's Gram matrices,
//! `D^2` in up to 4 accumulators (the QR solver also forms `J`, `N x D`); the ALS local
//! systems, `(r_{k-1} n_k r_k)^2` per accumulation group.

use ttfit::fit::FitConfig;
use ttfit::optim::gram::GramSolver;
use ttfit::optim::OptimizerConfig;
use ttfit::{Error, Result};

/// Memory available to this process, from `/proc/meminfo` (`MemAvailable`); `None` where that
/// cannot be read (then only the address-space bound applies).
pub fn available_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn gib(b: u128) -> String {
    format!("{:.1} GiB", b as f64 / (1u128 << 30) as f64)
}

/// Refuse `bytes` when they exceed the available memory (or 2^47, the address space).
pub fn check(what: &str, bytes: u128, advice: &str) -> Result<()> {
    let limit = available_bytes().unwrap_or(1u128 << 47).min(1u128 << 47);
    if bytes > limit {
        return Err(Error::param(
            what,
            format!(
                "needs about {} of memory but {} are available; {advice}",
                gib(bytes),
                gib(limit)
            ),
        ));
    }
    Ok(())
}

/// Number of TT parameters `sum_k r_{k-1} n_k r_k` for mode sizes and internal ranks.
pub fn num_params(sizes: &[usize], ranks: &[usize]) -> u128 {
    let mut full = vec![1usize];
    full.extend_from_slice(ranks);
    full.push(1);
    sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| full[k] as u128 * n as u128 * full[k + 1] as u128)
        .sum()
}

/// Estimated peak bytes of fitting `cfg` with optimizer `opt` to `n` rows.
pub fn fit_bytes(
    opt: &OptimizerConfig,
    n: usize,
    sizes: &[usize],
    ranks: &[usize],
) -> (u128, &'static str) {
    let n = n as u128;
    let f: u128 = sizes.iter().map(|&s| s as u128).sum();
    let m: u128 = 1 + sizes
        .iter()
        .map(|&s| s.saturating_sub(1) as u128)
        .sum::<u128>();
    let dim = num_params(sizes, ranks);
    let mut bytes = 8 * (n * f + 8 * m * m);
    let mut biggest = "the additive start's normal equations";
    let natural = match opt {
        OptimizerConfig::Ngd(c) => Some(c),
        OptimizerConfig::Momentum(c) => Some(&c.natural),
        _ => None,
    };
    if let Some(c) = natural {
        match c.solver {
            GramSolver::Lsqr { .. } => {}
            GramSolver::Qr => {
                bytes += 8 * (n * dim + 4 * dim * dim);
                biggest = "the natural gradient's Jacobian and Gram matrix";
            }
            _ => {
                bytes += 8 * 4 * dim * dim;
                biggest = "the natural gradient's Gram matrix (D x D)";
            }
        }
    }
    if let OptimizerConfig::Als(_) = opt {
        let mut full = vec![1usize];
        full.extend_from_slice(ranks);
        full.push(1);
        let local = sizes
            .iter()
            .enumerate()
            .map(|(k, &s)| full[k] as u128 * s as u128 * full[k + 1] as u128)
            .max()
            .unwrap_or(0);
        bytes += 8 * 8 * local * local;
        biggest = "the ALS local systems";
    }
    (bytes, biggest)
}

/// Pre-flight of a fit: memory, and a warning when there are fewer rows than parameters.
pub fn check_fit(
    cfg: &FitConfig,
    opts: &[&OptimizerConfig],
    n_rows: usize,
    d: usize,
) -> Result<()> {
    let bases = cfg.check(d)?;
    let sizes: Vec<usize> = bases.iter().map(|b| b.dim()).collect();
    let ranks = cfg.ranks(&sizes)?;
    let n_train = match cfg.validation {
        Some(v) => n_rows - ((n_rows as f64 * v).round() as usize).min(n_rows),
        None => n_rows,
    };
    for opt in opts {
        let (bytes, biggest) = fit_bytes(opt, n_rows, &sizes, &ranks);
        check(
            "fit size",
            bytes,
            &format!(
                "the largest part is {biggest} for {d} inputs, {n_rows} rows, {} parameters: lower --rank, use a smaller --basis, fewer --inputs{}",
                num_params(&sizes, &ranks),
                if matches!(opt, OptimizerConfig::Als(_)) { "" } else { ", or --solver lsqr" }
            ),
        )?;
    }
    let p = num_params(&sizes, &ranks);
    if (n_train as u128) < p {
        eprintln!(
            "warning: {n_train} training rows for {p} model parameters (ranks {ranks:?}, {} features per input): the fit is underdetermined and will not generalize; use more rows, a lower --rank or a smaller --basis",
            sizes.first().copied().unwrap_or(0)
        );
    }
    Ok(())
}
