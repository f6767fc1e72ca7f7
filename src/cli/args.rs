//! Argument definitions.

use super::progress::ProgressMode;
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
/// Option values may start with '-': --domain -4:4,-1:1 works as written.
/// Outputs are checked before any work starts: an output that is an input, a directory, a
/// device or in a missing directory is refused; symbolic links are written through.
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
    #[command(allow_negative_numbers = true)]
    Sample(SampleArgs),
    /// Fit a model to a CSV file and write it as a model file (JSON).
    #[command(allow_negative_numbers = true)]
    Fit(FitArgs),
    /// Evaluate a model file on the rows of a CSV file.
    #[command(allow_negative_numbers = true)]
    Predict(PredictArgs),
    /// Run several optimizers on the same data and start point; write history.csv,
    /// summary.md and convergence plots (PNG and SVG).
    #[command(allow_negative_numbers = true)]
    Compare(CompareArgs),
    /// The main job for a new user, no files needed: sample a built-in function, compare the
    /// optimizers, print the table and write the plots.
    #[command(allow_negative_numbers = true)]
    Demo(DemoArgs),
    /// Fit a density p = psi^2 rho_mu (a squared TT, exactly normalized) to samples by
    /// maximum likelihood; `predict` then gives densities, `sample --model` draws from it.
    #[command(allow_negative_numbers = true)]
    Density(super::density::DensityArgs),
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Built-in function: borehole, otl, piston, ishigami, friedman, genz-oscillatory:D,
    /// genz-corner-peak:D, sin-sum:D (D = number of variables).
    #[arg(long, required_unless_present = "model", conflicts_with = "model")]
    pub function: Option<String>,
    /// Density model written by `ttfit density`: draw exact samples from it instead.
    #[arg(long)]
    pub model: Option<PathBuf>,
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
    /// Adaptive learner: K-fold cross-validation (2 <= K <= rows). The search runs with fold 1
    /// held out; its 4 best settings (ranks, functions, penalty) are fitted on every K-1 folds,
    /// the lowest mean error on the left-out folds wins and is refitted on all rows. Replaces
    /// --validation and --refit [default: off, one held-out split of 20 % decides].
    #[arg(long)]
    pub cv: Option<usize>,
    /// Adaptive learner: after the search, round the selected model with this relative
    /// tolerance (TT-SVD, 0 < TOL < 1) and keep the rounded model if one more stage from it
    /// keeps the validation error within 1 %; the summary says what happened [default: off].
    #[arg(long, value_name = "TOL")]
    pub prune: Option<f64>,
    /// Early stopping: iterations without validation improvement (needs --validation).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Maximal number of iterations (ALS: sweeps) [default: 100, unlimited when a time limit
    /// is given; with the adaptive learner, per stage, 40].
    #[arg(long)]
    pub max_iter: Option<usize>,
    /// Wall-clock budget in seconds for the whole fit (preparation, iterations, error
    /// evaluations; per optimizer in `compare`). Lifts the default iteration limit. With the
    /// adaptive learner: the search budget in work seconds, counted work converted by one
    /// calibrated constant, so the same data give the same model on any machine and under any
    /// load [default: 4, or 2 ms per row above 2000 rows].
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Stop when the training loss falls to this value.
    #[arg(long)]
    pub target_loss: Option<f64>,
    /// Training loss: least-squares (regression), logistic (two classes: the target column
    /// holds labels 0 and 1, the model gives the logit) or softmax (C classes: labels
    /// 0..C-1, the model gets a class input with one-hot features and gives C logits).
    /// `predict` writes probabilities (<target>_prob, or <target>_prob<c> per class) and
    /// <target>_label. Classifiers need --rank and --basis and fit without validation.
    #[arg(long)]
    pub loss: Option<String>,
    /// Seed (start point, validation split, mini-batches).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Input domain per variable as lo:hi,lo:hi,... (default: inferred from the training
    /// inputs with a 1% margin).
    #[arg(long, conflicts_with = "domain_from", allow_hyphen_values = true)]
    pub domain: Option<String>,
    /// Input domains from a CSV file with columns variable,lo,hi.
    #[arg(long)]
    pub domain_from: Option<PathBuf>,
    /// Start point: greedy (rank-one corrections from an additive fit, one rank at a time),
    /// additive (an additive fit padded to the rank) or random [default: greedy].
    #[arg(long)]
    pub start: Option<String>,
    /// Rank continuation (with a fixed --rank): start at ranks min(r, 2), where the additive
    /// fit is a regular point of the manifold, and grow every bond below --rank by one greedy
    /// rank move (a rank-one least-squares correction of the residual) after each step that
    /// gains less than TOL of the training loss [TOL: 0.1 when the flag is given without it;
    /// default: off].
    #[arg(long, value_name = "TOL", num_args = 0..=1, default_missing_value = "0.1")]
    pub rank_continuation: Option<f64>,
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
    /// Levenberg–Marquardt damping of the natural-gradient step (ngd, ngd-hb, ngd-nesterov;
    /// empirical metric): lm (lambda_0 = 1e-6 tr(G)/D, adapted by the gain ratio), lm:TAU
    /// (lambda_0 = TAU tr(G)/D) or off (the undamped step with Armijo) [default: lm].
    #[arg(long)]
    pub damping: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Fit configuration file (TOML, the fields of ttfit::fit::FitConfig; see docs/CONFIG.md).
    /// Merged field by field: defaults, then the file, then the command-line options.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Progress report on stderr: auto (a bar on a terminal, lines otherwise), bar, lines (at
    /// least one line every 4 s, with elapsed time and ETA), none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer: als, rgd, rcg, gd, ngd, ngd-hb, ngd-nesterov (add -pop for the population
    /// metric, e.g. ngd-nesterov-pop) [default: the config file's, else als with the adaptive
    /// learner and ngd-nesterov with fixed --rank and --basis].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Output model file (JSON). Checked before the fit, written only when it succeeds.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress output (same as --progress none).
    #[arg(long)]
    pub quiet: bool,
    // --- checkpoint, resume, warm start (issue 9) ---
    /// Write the full state of the fit to this file, atomically, every --checkpoint-every
    /// iterations and on SIGINT/SIGTERM (then stop); continue later with --resume.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Iterations between checkpoints.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Continue the fit saved in this checkpoint (written by --checkpoint), on the same data;
    /// the configuration is the checkpoint's, the model options given here are not used.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Warm start from an existing model file (same basis and rank as this fit).
    #[arg(long)]
    pub init: Option<PathBuf>,
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
    /// Replace an existing column of the input table named like the prediction column
    /// (refused otherwise).
    #[arg(long)]
    pub overwrite_column: bool,
    /// Column of true values: print RMSE, relative L2 error and max error of the predictions.
    #[arg(long)]
    pub target: Option<String>,
    /// Also write those error metrics as JSON to this file (needs --target).
    #[arg(long, requires = "target")]
    pub metrics: Option<PathBuf>,
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
    /// Output directory for history.csv, summary.md and the plots (created if missing).
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
    /// Progress report: auto, bar, lines, none (see `ttfit fit --help`).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}
