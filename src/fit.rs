//! The high-level fit: validated hyperparameters in, a model that can predict out (the `linfa`
//! pattern). This is what the command line and most library users call.
//!
//! ```no_run
//! use ttfit::fit::{fit, FitConfig};
//! use ttfit::functions::TestFunction;
//! let f = TestFunction::parse("borehole")?;
//! let train = f.sample(2000, 1)?;
//! let test = f.sample(1000, 2)?;
//! let cfg = FitConfig { rank: vec![4], ..FitConfig::default() };
//! let fitted = fit(&cfg, &train, Some(&test), |_rec: &ttfit::train::IterationRecord| {})?;
//! println!("test error {:?}", fitted.info.test_error);
//! # Ok::<(), ttfit::Error>(())
//! ```

use crate::basis::{Basis, FeatureMap, InputMap, Measure, OutsidePolicy};
use crate::data::split::SplitSize;
use crate::data::{infer_domain, infer_standardization, Dataset, DEFAULT_DOMAIN_MARGIN};
use crate::error::{Error, Result};
use crate::init::{initial_tt, Start};
use crate::model::{sample_set, FunctionalTT};
use crate::model_file::TrainingInfo;
use crate::optim::OptimizerConfig;
use crate::samples::SampleSet;
use crate::train::{FitResult, IterationRecord, Observer, StoppingRules, Trainer};
use tensor_train::linalg::Par;
use tensor_train::{TensorTrain, TtError};

/// Everything that defines a fit. Serializable, so it can come from a TOML file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FitConfig {
    /// Basis for every variable (default Legendre with 8 functions).
    pub basis: Basis,
    /// Per-variable bases overriding `basis` (`d` entries).
    pub bases: Option<Vec<Basis>>,
    /// TT ranks: one value for every bond, or the `d - 1` bond ranks.
    pub rank: Vec<usize>,
    /// The optimizer and its settings.
    pub optimizer: OptimizerConfig,
    /// Stopping rules.
    pub stopping: StoppingRules,
    /// Start point.
    pub start: Start,
    /// Seed of the start, the validation split and mini-batches.
    pub seed: u64,
    /// Input domain `(lo, hi)` per variable for the uniform-measure bases; inferred from the
    /// training inputs (widened by `domain_margin`) when absent.
    pub domain: Option<Vec<(f64, f64)>>,
    /// Relative widening of inferred domains.
    pub domain_margin: f64,
    /// Fraction (or count) of the training rows held out for validation / early stopping.
    pub validation: Option<f64>,
    /// Worker threads (`None`: rayon's global pool, i.e. all cores; `Some(n)`: the fit runs
    /// inside a pool of `n` threads, see [`fit`]). Results do not depend on it.
    pub threads: Option<usize>,
    /// The adaptive learner (validation, rank and degree selection; [`crate::learn`]); `None`
    /// runs one fit at the fixed `rank` and `basis`.
    pub learn: Option<crate::learn::LearnConfig>,
    /// The training loss (default least squares).
    pub loss: LossKind,
    /// Rank continuation ([`crate::learn::continuation`]): start at ranks `min(r_k, 2)` and
    /// grow them by greedy rank moves whenever the optimizer stalls, up to `rank`; `None`
    /// (default) optimizes at `rank` from the start.
    pub rank_continuation: Option<crate::learn::continuation::RankContinuation>,
}

/// The training loss of a fit (MATH.md §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// `(v - y)^2 / 2`: regression.
    #[default]
    LeastSquares,
    /// Binary cross-entropy of the logit `v` with labels `0`/`1` (Fisher scoring).
    Logistic,
    /// Multinomial cross-entropy over `C` classes (labels `0..C-1`): the model gets one more
    /// input, [`CLASS_INPUT`], with a piecewise-constant basis of `C` cells (one-hot class
    /// features), and `v(x, c)` is the logit of class `c` (MATH.md §8).
    Softmax,
}

/// Name of the class input of a softmax model (its values are the class indices).
pub const CLASS_INPUT: &str = "class";

impl LossKind {
    /// Parse `least-squares` (or `ls`) and `logistic`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "least-squares" | "ls" => Ok(LossKind::LeastSquares),
            "logistic" => Ok(LossKind::Logistic),
            "softmax" => Ok(LossKind::Softmax),
            other => Err(Error::param(
                "--loss",
                format!("unknown loss '{other}'; choose least-squares, logistic or softmax"),
            )),
        }
    }

    /// The loss object (`classes` is used by softmax only).
    pub fn build(self, classes: usize) -> Box<dyn crate::loss::Loss> {
        match self {
            LossKind::LeastSquares => Box::new(crate::loss::LeastSquares),
            LossKind::Logistic => Box::new(crate::loss::Logistic),
            LossKind::Softmax => Box::new(crate::loss::Softmax { classes }),
        }
    }
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            basis: Basis::Legendre { n: 8 },
            bases: None,
            rank: vec![4],
            optimizer: OptimizerConfig::from_name("ngd-nesterov")
                .unwrap_or(OptimizerConfig::Ngd(Default::default())),
            stopping: StoppingRules::default(),
            start: Start::default(),
            seed: 0,
            domain: None,
            domain_margin: DEFAULT_DOMAIN_MARGIN,
            validation: None,
            threads: None,
            learn: None,
            loss: LossKind::LeastSquares,
            rank_continuation: None,
        }
    }
}

/// A fitted model with its training history and metadata.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The model.
    pub model: FunctionalTT,
    /// History and stop reason.
    pub result: FitResult,
    /// Metadata for the model file.
    pub info: TrainingInfo,
    /// What the adaptive learner selected and why (`None` for a fixed fit).
    pub selection: Option<crate::learn::Selection>,
}

impl FitConfig {
    /// Parallelism implied by `threads`: sequential for one thread, else the current rayon
    /// pool (whose size [`fit`] sets).
    pub fn par(&self) -> Par {
        match self.threads {
            Some(1) => Par::Seq,
            _ => Par::Rayon(0),
        }
    }

    /// Check the configuration against a data set with `d` inputs; returns the bases.
    pub fn check(&self, d: usize) -> Result<Vec<Basis>> {
        if d == 0 {
            return Err(Error::data("data", "no input columns"));
        }
        let bases = match &self.bases {
            Some(b) if b.len() != d => {
                return Err(Error::param(
                    "bases",
                    format!("{} bases given for {d} input variables", b.len()),
                ))
            }
            Some(b) => b.clone(),
            None => vec![self.basis.clone(); d],
        };
        for b in &bases {
            b.validate()?;
        }
        if self.rank.is_empty() || self.rank.contains(&0) {
            return Err(Error::param(
                "rank",
                "ranks must be at least 1 (e.g. --rank 4)",
            ));
        }
        if self.rank.len() != 1 && self.rank.len() + 1 != d {
            return Err(Error::param(
                "rank",
                format!(
                    "give one rank or d - 1 = {} bond ranks, got {}",
                    d.saturating_sub(1),
                    self.rank.len()
                ),
            ));
        }
        if let Some(dom) = &self.domain {
            if dom.len() != d {
                return Err(Error::param(
                    "domain",
                    format!("{} intervals for {d} input variables", dom.len()),
                ));
            }
            for (k, &(lo, hi)) in dom.iter().enumerate() {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(Error::param(
                        "domain",
                        format!("interval {} is [{lo}, {hi}]; need finite lo < hi", k + 1),
                    ));
                }
            }
        }
        if !(self.domain_margin.is_finite() && self.domain_margin >= 0.0) {
            return Err(Error::param("domain margin", "must be finite and >= 0"));
        }
        if let Some(v) = self.validation {
            if !(v > 0.0 && v < 1.0) {
                return Err(Error::param(
                    "validation",
                    format!("fraction must lie in (0, 1), got {v}"),
                ));
            }
        }
        if self.threads == Some(0) {
            return Err(Error::param("threads", "must be at least 1"));
        }
        self.stopping.validate()?;
        self.optimizer.build()?;
        if let Some(rc) = &self.rank_continuation {
            rc.validate()?;
            if self.learn.is_some() {
                return Err(Error::param(
                    "--rank-continuation",
                    "the adaptive learner grows the ranks itself; use one of --learn and --rank-continuation",
                ));
            }
            if self.loss != LossKind::LeastSquares {
                return Err(Error::param(
                    "--rank-continuation",
                    "rank moves fit the least-squares residual; use it with --loss least-squares",
                ));
            }
        }
        Ok(bases)
    }

    /// Internal ranks `r_1..r_{d-1}` for `d` variables with `n_k` features, checked for
    /// admissibility with an actionable message.
    pub fn ranks(&self, mode_sizes: &[usize]) -> Result<Vec<usize>> {
        let d = mode_sizes.len();
        let ranks = if self.rank.len() == 1 {
            vec![self.rank[0]; d.saturating_sub(1)]
        } else {
            self.rank.clone()
        };
        tensor_train::check_ranks(mode_sizes, &ranks).map_err(|e| match e {
            TtError::Rank { bond, rank, max } => {
                let largest = tensor_train::clamp_ranks(mode_sizes, &ranks);
                Error::param(
                    "rank",
                    format!(
                        "rank {rank} between variables {bond} and {} is larger than possible (at most {max} with these numbers of features); the largest admissible ranks not above yours are {largest:?}",
                        bond + 1
                    ),
                )
            }
            other => other.into(),
        })?;
        Ok(ranks)
    }

    /// The feature map for training inputs: given or inferred domains (uniform measures),
    /// standardization (Gaussian measure).
    pub fn feature_map(&self, bases: Vec<Basis>, train: &Dataset) -> Result<FeatureMap> {
        let inferred = infer_domain(train.x.view(), self.domain_margin)?;
        let (standard, _) = infer_standardization(train.x.view())?;
        let maps: Vec<InputMap> = bases
            .iter()
            .enumerate()
            .map(|(k, b)| match b.measure() {
                Measure::Gaussian => standard[k],
                _ => match &self.domain {
                    Some(dom) => InputMap::Interval {
                        lo: dom[k].0,
                        hi: dom[k].1,
                    },
                    None => InputMap::Interval {
                        lo: inferred.bounds[k].0,
                        hi: inferred.bounds[k].1,
                    },
                },
            })
            .collect();
        FeatureMap::from_parts(bases, maps, train.input_names.clone())
    }
}

/// Everything a run needs, prepared once from a configuration and data: the feature map
/// (domains inferred from the training part), the sample sets of the training, validation
/// and test parts, and the start point. Shared by [`fit`] and [`crate::compare::compare`].
#[derive(Debug, Clone)]
pub struct FitProblem {
    /// Bases and input maps.
    pub features: FeatureMap,
    /// Training samples (without the validation part).
    pub train: SampleSet,
    /// Validation samples, when a validation fraction is configured.
    pub valid: Option<SampleSet>,
    /// Test samples, when test data is given.
    pub test: Option<SampleSet>,
    /// The start point (same for every optimizer of a comparison).
    pub start: TensorTrain,
    /// The requested internal ranks (the start's under a fixed rank; the ranks to grow to
    /// under rank continuation).
    pub ranks: Vec<usize>,
}

impl FitProblem {
    /// The optimizer of `oc` as this fit runs it: wrapped in
    /// [`crate::learn::continuation::Continuation`] under rank continuation.
    pub fn optimizer(
        &self,
        cfg: &FitConfig,
        oc: &OptimizerConfig,
    ) -> Result<Box<dyn crate::optim::Optimizer>> {
        let opt = oc.build()?;
        Ok(match &cfg.rank_continuation {
            Some(rc) => Box::new(crate::learn::continuation::Continuation::new(
                opt,
                oc.clone(),
                self.ranks.clone(),
                rc,
            )?),
            None => opt,
        })
    }
}

impl FitConfig {
    /// Validate against `data`, split off the validation part, build the feature map and the
    /// sample sets, and compute the start point.
    pub fn prepare(&self, data: &Dataset, test: Option<&Dataset>) -> Result<FitProblem> {
        let bases = self.check(data.n_inputs())?;
        data.check_fit_range()?;
        let (train, valid) = match self.validation {
            Some(f) => {
                let (t, v) = data.split(SplitSize::Fraction(f), self.seed)?;
                (t, Some(v))
            }
            None => (data.clone(), None),
        };
        if let Some(t) = test {
            if t.input_names != train.input_names {
                return Err(Error::data(
                    "test data",
                    format!(
                        "input columns {:?} differ from the training columns {:?}",
                        t.input_names, train.input_names
                    ),
                ));
            }
        }
        let features = self.feature_map(bases, &train)?;
        let ranks = self.ranks(&features.mode_sizes())?;
        let policy = OutsidePolicy::Extrapolate;
        let train = sample_set(&features, &train, policy)?;
        let valid = valid
            .as_ref()
            .map(|v| sample_set(&features, v, policy))
            .transpose()?;
        let test = test.map(|t| sample_set(&features, t, policy)).transpose()?;
        let start_ranks = match &self.rank_continuation {
            Some(_) => crate::learn::continuation::RankContinuation::start_ranks(&ranks),
            None => ranks.clone(),
        };
        let start = initial_tt(&train, &start_ranks, &self.start, self.seed)?;
        Ok(FitProblem {
            features,
            train,
            valid,
            test,
            start,
            ranks,
        })
    }
}

/// How a fit is started and kept safe: warm start, resume, checkpoints, interruption
/// (`ttfit fit --init/--resume/--checkpoint`). The default starts from the configured start
/// point and writes nothing.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Warm start: this TT replaces the configured start (mode sizes and ranks must match).
    pub init: Option<TensorTrain>,
    /// Continue from a checkpoint's state (written by a run of the same configuration on the
    /// same data, see [`data_fingerprint`]).
    pub resume: Option<crate::train::TrainerState>,
    /// Write a checkpoint to this file every this many iterations and on interruption.
    pub checkpoint: Option<(std::path::PathBuf, usize)>,
    /// Stop after the current iteration once set (SIGINT/SIGTERM handler).
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// A fingerprint of the training data (FNV-1a over the bits of inputs and targets), stored in
/// checkpoints so that a resume on other data is refused.
pub fn data_fingerprint(data: &Dataset) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in data.x.iter().chain(data.y.iter()) {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The configuration stored in a checkpoint of `ttfit fit`: the fit configuration and the
/// fingerprint of the data it ran on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointConfig {
    /// The fit configuration.
    pub fit: FitConfig,
    /// [`data_fingerprint`] of the training data.
    pub data_fingerprint: u64,
    /// Number of training rows.
    pub data_rows: usize,
}

/// Fit a functional TT to `data` (a validation part is held out when configured) and report
/// errors on `test` along the way. `observer` receives every iteration record.
///
/// With `cfg.threads = Some(n)` the whole fit runs inside a rayon pool of `n` threads (every
/// parallel kernel, faer's included, uses the current pool), on a helper thread; the records
/// are passed back to `observer` on the calling thread, so the observer need not be `Send`.
/// Every reduction over samples has a fixed order ([`tensor_train::reduce`]), so the model
/// is bitwise the same for any `n` (tested in `tests/threads.rs`).
pub fn fit(
    cfg: &FitConfig,
    data: &Dataset,
    test: Option<&Dataset>,
    mut observer: impl Observer,
) -> Result<Fitted> {
    let Some(n) = cfg.threads else {
        return fit_here(cfg, data, test, observer);
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .thread_name(|i| format!("ttfit-{i}"))
        .build()
        .map_err(|e| Error::param("threads", format!("cannot start {n} worker threads: {e}")))?;
    let (tx, rx) = std::sync::mpsc::channel::<IterationRecord>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            pool.install(|| {
                fit_here(cfg, data, test, |rec: &IterationRecord| {
                    // the receiver lives until this thread is joined
                    let _ = tx.send(rec.clone());
                })
            })
        });
        for rec in rx {
            observer.observe(&rec);
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// [`fit`] in the current rayon pool.
fn fit_here(
    cfg: &FitConfig,
    data: &Dataset,
    test: Option<&Dataset>,
    observer: impl Observer,
) -> Result<Fitted> {
    fit_with(cfg, data, test, observer, RunControl::default())
}

/// [`fit`] with a warm start, resume, checkpoints or interruption ([`RunControl`]).
pub fn fit_with(
    cfg: &FitConfig,
    data: &Dataset,
    test: Option<&Dataset>,
    observer: impl Observer,
    control: RunControl,
) -> Result<Fitted> {
    let mut classes = 2;
    if cfg.loss != LossKind::LeastSquares {
        if cfg.learn.is_some() {
            return Err(Error::param(
                "--loss logistic",
                "the adaptive learner selects models by their relative L2 validation error, which does not measure a classifier; fix the model class with --rank and --basis",
            ));
        }
        if cfg.validation.is_some() || cfg.stopping.validation_patience.is_some() {
            return Err(Error::param(
                "--loss logistic",
                "validation early stopping tracks the relative L2 error, not the log-loss; fit a classifier with --validation 0",
            ));
        }
        if cfg.loss == LossKind::Softmax {
            classes = crate::classify::count_classes(data.y.view())?;
        }
        crate::classify::labels_from_targets(data.y.view(), classes)?;
        if let Some(t) = test {
            crate::classify::labels_from_targets(t.y.view(), classes)
                .map_err(|e| Error::data("test data", e.to_string()))?;
        }
    }
    if cfg.loss == LossKind::Softmax {
        // one more input: the class, with one-hot (piecewise-constant) features; every row
        // becomes C rows with one-hot targets
        if data.input_names.iter().any(|n| n == CLASS_INPUT) {
            return Err(Error::data(
                "data",
                format!("an input column is named \"{CLASS_INPUT}\", the name of the softmax model's class input; rename it"),
            ));
        }
        let d = data.n_inputs();
        let bases = cfg.check(d)?;
        let mut cfg2 = cfg.clone();
        let mut b2 = bases;
        b2.push(Basis::Piecewise {
            degree: 0,
            cells: classes,
        });
        cfg2.bases = Some(b2);
        let mut dom = match &cfg.domain {
            Some(dm) => dm.clone(),
            None => data.infer_domain(cfg.domain_margin)?.bounds,
        };
        dom.push((-0.5, classes as f64 - 0.5));
        cfg2.domain = Some(dom);
        let data2 = softmax_dataset(data, classes)?;
        let test2 = test.map(|t| softmax_dataset(t, classes)).transpose()?;
        return fit_prepared(&cfg2, &data2, test2.as_ref(), observer, control, classes);
    }
    fit_prepared(cfg, data, test, observer, control, classes)
}

/// The softmax data set of `data`: row `i` becomes rows `i C + c` with the extra input
/// [`CLASS_INPUT`] `= c`, target `1[y_i = c]` and the row's weight.
pub fn softmax_dataset(data: &Dataset, classes: usize) -> Result<Dataset> {
    let (n, d) = data.x.dim();
    let x = ndarray::Array2::from_shape_fn((n * classes, d + 1), |(r, k)| {
        if k < d {
            data.x[[r / classes, k]]
        } else {
            (r % classes) as f64
        }
    });
    let y = ndarray::Array1::from_shape_fn(n * classes, |r| {
        (data.y[r / classes] == (r % classes) as f64) as u8 as f64
    });
    let w = data
        .weights
        .as_ref()
        .map(|w| ndarray::Array1::from_shape_fn(n * classes, |r| w[r / classes]));
    let mut names = data.input_names.clone();
    names.push(CLASS_INPUT.into());
    Dataset::new(x, y, w, names, data.target_name.clone())
}

/// [`fit_with`] after the classification checks (`classes`: of a classifier).
fn fit_prepared(
    cfg: &FitConfig,
    data: &Dataset,
    test: Option<&Dataset>,
    observer: impl Observer,
    control: RunControl,
    classes: usize,
) -> Result<Fitted> {
    if cfg.learn.is_some() {
        if control.init.is_some() || control.resume.is_some() || control.checkpoint.is_some() {
            return Err(Error::param(
                "--init/--resume/--checkpoint",
                "the adaptive learner changes ranks and degrees between stages and cannot be warm-started, resumed or checkpointed; fix the model class with --rank and --basis",
            ));
        }
        return crate::learn::learn(cfg, data, test, observer);
    }
    // the time limit is wall-clock time for the whole fit, preparation included
    let started = std::time::Instant::now();
    let mut problem = cfg.prepare(data, test)?;
    let target = problem.ranks.clone();
    if let Some(init) = control.init {
        // under rank continuation any ranks up to the target can be grown from
        let ranks_fit = match cfg.rank_continuation {
            Some(_) => {
                init.internal_ranks().len() == target.len()
                    && init
                        .internal_ranks()
                        .iter()
                        .zip(&target)
                        .all(|(a, b)| a <= b)
            }
            None => init.internal_ranks() == problem.start.internal_ranks(),
        };
        if init.mode_sizes() != problem.start.mode_sizes() || !ranks_fit {
            return Err(Error::param(
                "--init",
                format!(
                    "the initial model has {:?} features and ranks {:?}, the fit {:?} and {:?}; use the same --basis and --rank as the initial model",
                    init.mode_sizes(),
                    init.internal_ranks(),
                    problem.start.mode_sizes(),
                    problem.start.internal_ranks()
                ),
            ));
        }
        problem.start = init;
    }
    let policy = OutsidePolicy::Extrapolate;
    let mut opt = problem.optimizer(cfg, &cfg.optimizer)?;
    let mut trainer = Trainer::new(cfg.stopping.clone())
        .started_at(started)
        .par(cfg.par())
        .seed(cfg.seed)
        .loss(cfg.loss.build(classes))
        .observe(observer);
    if let Some((path, every)) = control.checkpoint {
        let meta = CheckpointConfig {
            fit: cfg.clone(),
            data_fingerprint: data_fingerprint(data),
            data_rows: data.n_samples(),
        };
        let value =
            serde_json::to_value(&meta).map_err(|e| Error::param("checkpoint", e.to_string()))?;
        trainer = trainer.checkpoint(path, every, value);
    }
    if let Some(flag) = control.interrupt {
        trainer = trainer.interrupt(flag);
    }
    if let Some(state) = control.resume {
        trainer = trainer.resume(state);
    }
    let result = trainer.run(
        opt.as_mut(),
        problem.start,
        &problem.train,
        problem.valid.as_ref(),
        problem.test.as_ref(),
    )?;
    let last: &IterationRecord = result
        .history
        .last()
        .ok_or_else(|| Error::param("fit", "empty history"))?;
    let info = TrainingInfo {
        ttfit_version: env!("CARGO_PKG_VERSION").into(),
        optimizer: opt.name(),
        optimizer_config: serde_json::to_value(&cfg.optimizer).ok(),
        iterations: last.iteration,
        seconds: last.seconds,
        stop_reason: result.stop.to_string(),
        n_train: problem.train.len(),
        train_error: last.train_error,
        validation_error: match cfg.stopping.validation_patience {
            Some(_) => result
                .history
                .iter()
                .filter_map(|h| h.validation_error)
                .reduce(f64::min),
            None => last.validation_error,
        },
        test_error: last.test_error,
        seed: cfg.seed,
        target: data.target_name.clone(),
        data_source: None,
        settings: serde_json::to_value(cfg).ok(),
        classification: match cfg.loss {
            LossKind::LeastSquares => None,
            LossKind::Logistic | LossKind::Softmax => Some(classification_info(
                &result.tt,
                &problem.train,
                problem.test.as_ref(),
                cfg.par(),
                classes,
                cfg.loss == LossKind::Softmax,
            )?),
        },
    };
    let model = FunctionalTT::new(problem.features, result.tt.clone())?;
    // with early stopping the returned TT is the best one: report its own test error
    let info = match (test, cfg.stopping.validation_patience) {
        (Some(t), Some(_)) => TrainingInfo {
            test_error: Some(model.relative_error(t, policy)?),
            ..info
        },
        _ => info,
    };
    Ok(Fitted {
        model,
        result,
        info,
        selection: None,
    })
}

/// Accuracy and log-loss of the logit model `tt` on the training (and test) samples, whose
/// targets are validated `0`/`1` labels.
fn classification_info(
    tt: &TensorTrain,
    train: &crate::samples::SampleSet,
    test: Option<&crate::samples::SampleSet>,
    par: Par,
    classes: usize,
    softmax: bool,
) -> Result<crate::model_file::ClassificationInfo> {
    let metrics = |s: &crate::samples::SampleSet| -> Result<(f64, f64)> {
        let z = crate::optim::predict(tt, s, par)?;
        let probs = crate::classify::probabilities(z.view(), classes, softmax);
        let labels = if softmax {
            // the one-hot targets of each group of C rows
            let t = s.targets();
            (0..t.len() / classes)
                .map(|i| {
                    (0..classes)
                        .find(|&c| t[i * classes + c] == 1.0)
                        .unwrap_or(0)
                })
                .collect()
        } else {
            crate::classify::labels_from_targets(s.targets(), 2)?
        };
        Ok((
            crate::classify::accuracy(&probs, &labels),
            crate::classify::log_loss(&probs, &labels),
        ))
    };
    let (train_accuracy, train_log_loss) = metrics(train)?;
    let test = test.map(metrics).transpose()?;
    Ok(crate::model_file::ClassificationInfo {
        loss: if softmax { "softmax" } else { "logistic" }.into(),
        classes,
        train_accuracy,
        train_log_loss,
        test_accuracy: test.map(|t| t.0),
        test_log_loss: test.map(|t| t.1),
    })
}
