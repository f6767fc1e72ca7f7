//! Seeded random splits of a [`Dataset`] into training / validation (/ test) parts.
//!
//! The rows are permuted by `rand`'s `StdRng::seed_from_u64(seed)` and `SliceRandom::shuffle`;
//! the first rows of the permutation form the validation part, the next ones the test part, the
//! rest the training part, and every part keeps the original row order. Hence a split is a
//! deterministic function of `(N, sizes, seed)` (for a given `rand` version).

use super::Dataset;
use crate::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Size of a held-out part: a fraction of the rows or a number of rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitSize {
    /// `round(f N)` rows (at least 1), `0 < f < 1`.
    Fraction(f64),
    /// Exactly this many rows (`>= 1`).
    Count(usize),
}

impl SplitSize {
    /// Parses `0.2` (a fraction: contains a `.` or is below 1) or `200` (a count).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Ok(c) = s.parse::<usize>() {
            return Ok(SplitSize::Count(c));
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f < 1.0 => Ok(SplitSize::Fraction(f)),
            _ => Err(Error::param(
                "split size",
                format!("\"{s}\" is neither a fraction in (0, 1) such as 0.2 nor a row count such as 200"),
            )),
        }
    }

    /// The number of rows out of `n`; errors for fractions outside `(0, 1)` and zero counts.
    pub fn rows(&self, n: usize, what: &str) -> Result<usize> {
        match *self {
            SplitSize::Fraction(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(Error::param(
                        what,
                        format!("fraction {f} must lie strictly between 0 and 1"),
                    ));
                }
                Ok(((f * n as f64).round() as usize).max(1))
            }
            SplitSize::Count(0) => Err(Error::param(what, "a held-out part needs at least 1 row")),
            SplitSize::Count(c) => Ok(c),
        }
    }
}

/// Seeded partition of `0..n` into held-out parts of the given sizes and the remaining
/// training part: returns `[train, part_1, part_2, ..]`, each sorted increasingly.
///
/// Errors when the held-out parts leave no training row.
pub fn split_indices(n: usize, sizes: &[(SplitSize, &str)], seed: u64) -> Result<Vec<Vec<usize>>> {
    let counts = sizes
        .iter()
        .map(|(s, what)| s.rows(n, what))
        .collect::<Result<Vec<_>>>()?;
    let held: usize = counts.iter().sum();
    if held >= n {
        let parts = sizes
            .iter()
            .zip(&counts)
            .map(|((_, what), c)| format!("{c} {what}"))
            .collect::<Vec<_>>()
            .join(" + ");
        return Err(Error::data(
            "dataset",
            format!("too few rows: {n} rows cannot hold {parts} rows and leave at least one training row; lower the held-out fraction (--validation 0 fits on every row) or add rows"),
        ));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut parts = Vec::with_capacity(counts.len() + 1);
    let mut start = 0;
    for &c in &counts {
        let mut p = perm[start..start + c].to_vec();
        p.sort_unstable();
        parts.push(p);
        start += c;
    }
    let mut train = perm[start..].to_vec();
    train.sort_unstable();
    parts.insert(0, train);
    Ok(parts)
}

/// Seeded K-fold partition of `0..n`: the rows are permuted as in [`split_indices`] and row
/// `perm[j]` goes to fold `j mod k`, so the folds are disjoint, cover `0..n`, have sizes
/// `floor(n/k)` or `ceil(n/k)`, and each is sorted increasingly. A deterministic function of
/// `(n, k, seed)`.
///
/// Errors unless `2 <= k <= n`.
pub fn kfold_indices(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 || k > n {
        return Err(Error::param(
            "cv",
            format!(
                "K-fold cross-validation needs 2 <= K <= the number of rows ({n}); got K = {k}"
            ),
        ));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut folds = vec![Vec::with_capacity(n / k + 1); k];
    for (j, &i) in perm.iter().enumerate() {
        folds[j % k].push(i);
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    Ok(folds)
}

/// The complement of `fold` in `0..n` (the training rows of that fold), sorted.
pub fn complement(n: usize, fold: &[usize]) -> Vec<usize> {
    let mut held = vec![false; n];
    for &i in fold {
        held[i] = true;
    }
    (0..n).filter(|&i| !held[i]).collect()
}

impl Dataset {
    /// Seeded split into `(train, valid)` with `valid` rows held out (see the module doc).
    pub fn split(&self, valid: SplitSize, seed: u64) -> Result<(Dataset, Dataset)> {
        let parts = split_indices(self.n_samples(), &[(valid, "validation")], seed)?;
        Ok((self.subset(&parts[0])?, self.subset(&parts[1])?))
    }

    /// Seeded split into `(train, valid, test)`.
    pub fn split3(
        &self,
        valid: SplitSize,
        test: SplitSize,
        seed: u64,
    ) -> Result<(Dataset, Dataset, Dataset)> {
        let parts = split_indices(
            self.n_samples(),
            &[(valid, "validation"), (test, "test")],
            seed,
        )?;
        Ok((
            self.subset(&parts[0])?,
            self.subset(&parts[1])?,
            self.subset(&parts[2])?,
        ))
    }
}
