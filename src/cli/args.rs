//! Argument definitions.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// ttfit: learn tensor-train surrogates of high-dimensional functions from samples.
///
/// Start with `ttfit demo`. A typical session:
///   ttfit sample --function borehole --n 2000 --seed 1 --out train.csv
///   ttfit sample --function borehole --n 2000 --seed 2 --out test.csv
///   ttfit fit --data train.csv --target y --rank 4 --out model.json --test test.csv
///   ttfit predict --model model.json --data test.csv --out pred.csv
///   ttfit compare --data train.csv --test test.csv --rank 4 --out report/
///
/// Exit codes: 0 success, 1 the computation failed (diverged), 2 invalid arguments, data or
/// model file, 3 a file could not be read or written.
#[derive(Parser, Debug)]
#[command(name = "ttfit", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Draw samples of a built-in test function and write them as CSV (inputs, then `y`).
    Sample(SampleArgs),
    /// Fit a model to a CSV file and write it as a model file (JSON).
    Fit(FitArgs),
    /// Evaluate a model file on the rows of a CSV file.
    Predict(PredictArgs),
    /// Run several optimizers on the same data and start point; write history.csv,
    /// summary.md and convergence plots (PNG and SVG).
    Compare(CompareArgs),
    /// The main job for a new user, no files needed: sample a built-in function, compare the
    /// optimizers, print the table and write the plots.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Built-in function: borehole, otl, piston, ishigami, friedman, genz-oscillatory:D,
    /// genz-corner-peak:D, sin-sum:D (D = number of variables).
    #[arg(long)]
    pub function: String,
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output CSV file.
    #[arg(long)]
    pub out: PathBuf,
}

/// What defines a model: data columns, basis, rank, optimizer, stopping.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Training data: CSV with a header row.
    #[arg(long)]
    pub data: PathBuf,
    /// Target column name.
    #[arg(long, default_value = "y")]
    pub target: String,
    /// Input columns, comma separated (default: every column but the target).
    #[arg(long, value_delimiter = ',')]
    pub inputs: Option<Vec<String>>,
    /// Column of non-negative sample weights.
    #[arg(long)]
    pub weights: Option<String>,
    /// Feature basis for every input: legendre:N (uniform inputs), hermite:N (Gaussian
    /// inputs), fourier:M (periodic, 2M+1 functions), piecewise:PxK (degree P on K cells)
    /// [default: chosen per input by the adaptive learner, Legendre with 2..16 functions].
    #[arg(long)]
    pub basis: Option<String>,
    /// TT rank: one value for all bonds, or d-1 comma-separated values [default: chosen per
    /// bond by the adaptive learner, 1..--max-rank].
    #[arg(long, value_delimiter = ',')]
    pub rank: Option<Vec<usize>>,
    /// Test data (CSV with the same columns): its relative error is tracked per iteration.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Hold out this fraction of the training rows for validation; the best-validation
    /// iterate is returned [default: 0.2; 0 turns validation off (needs --rank and --basis)].
    #[arg(long)]
    pub validation: Option<f64>,
    /// Adaptive learner (used when --rank or --basis is absent): largest bond rank
    /// [default: 8].
    #[arg(long)]
    pub max_rank: Option<usize>,
    /// Adaptive learner: refit the selected model on all rows (off by default: it can undo
    /// the early stopping, Ishigami loses a factor 100 in docs/BENCHMARKS.md).
    #[arg(long)]
    pub refit: bool,
    /// Adaptive learner: choose among the best models of the search by K-fold
    /// cross-validation [default: off, one held-out split decides].
    #[arg(long)]
    pub cv: Option<usize>,
    /// Early stopping: iterations without validation improvement (needs --validation).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Maximal number of iterations (ALS: sweeps) [default: 100; with the adaptive learner,
    /// per stage, default 40].
    #[arg(long)]
    pub max_iter: Option<usize>,
    /// Time budget in seconds (per optimizer in `compare`).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Stop when the training loss falls to this value.
    #[arg(long)]
    pub target_loss: Option<f64>,
    /// Seed (start point, validation split, mini-batches).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Input domain per variable as lo:hi,lo:hi,... (default: inferred from the training
    /// inputs with a 1% margin).
    #[arg(long, conflicts_with = "domain_from")]
    pub domain: Option<String>,
    /// Input domains from a CSV file with columns variable,lo,hi.
    #[arg(long)]
    pub domain_from: Option<PathBuf>,
    /// Start point: greedy (rank-one corrections from an additive fit, one rank at a time),
    /// additive (an additive fit padded to the rank) or random [default: greedy].
    #[arg(long)]
    pub start: Option<String>,
    /// Mini-batch size for the natural-gradient optimizers (default: full batch).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Gram solver of the natural gradient: cholesky[:shift], eigen[:cutoff], qr, lsqr[:damp],
    /// block[:shift].
    #[arg(long)]
    pub solver: Option<String>,
    /// Momentum factor beta of ngd-hb / ngd-nesterov, in [0, 1).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Fit configuration file (TOML, the fields of ttfit::fit::FitConfig); command-line
    /// options override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer: als, rgd, rcg, gd, ngd, ngd-hb, ngd-nesterov (add -pop for the population
    /// metric, e.g. ngd-nesterov-pop) [default: als with the adaptive learner, ngd-nesterov
    /// with fixed --rank and --basis].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Output model file (JSON). Written only when the fit succeeds.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model file written by `ttfit fit`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with the model's input columns (matched by header name; other columns are kept).
    #[arg(long)]
    pub data: PathBuf,
    /// Output CSV: the input table plus the prediction column.
    #[arg(long)]
    pub out: PathBuf,
    /// Inputs outside the model's domain: extrapolate (warn), clamp (warn) or error.
    #[arg(long, default_value = "extrapolate")]
    pub outside: String,
    /// Name of the prediction column (default: the target name followed by _pred).
    #[arg(long)]
    pub column: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizers to compare, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "als,rgd,rcg,ngd,ngd-hb,ngd-nesterov"
    )]
    pub optimizers: Vec<String>,
    /// Output directory for history.csv, summary.md and the plots.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "ttfit-demo")]
    pub out: PathBuf,
    /// Built-in function to learn.
    #[arg(long, default_value = "borehole")]
    pub function: String,
    /// Training samples (the test set has as many).
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// TT rank.
    #[arg(long, default_value_t = 4)]
    pub rank: usize,
    /// Time budget per optimizer, seconds.
    #[arg(long, default_value_t = 6.0)]
    pub time_limit: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
