//! Shared driver of the PDE examples: run every method from the same start, print the table of
//! iterations and seconds to the target errors, write `history.csv`, `summary.md` and the
//! convergence plots with `ttfit::report`.

use ndarray::{Array1, Array2};
use tensor_train::interfaces::values;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;
use ttfit::basis::{FeatureBasis, FeatureMap, OutsidePolicy};
use ttfit::pde::solve::{solve, Method, SolveOptions};
use ttfit::pde::ResidualProblem;
use ttfit::report::{summary_text, write_report_with_thresholds, RunRecord};

/// Relative L2 error `||v - u|| / ||u||` on fixed test points.
pub struct TestError {
    feats: Vec<Array2<f64>>,
    exact: Array1<f64>,
}

impl TestError {
    pub fn new<B: FeatureBasis>(
        fm: &FeatureMap<B>,
        points: Array2<f64>,
        u: impl Fn(&[f64]) -> f64,
    ) -> ttfit::Result<Self> {
        let feats = fm.features(points.view(), OutsidePolicy::Extrapolate)?;
        let exact = Array1::from_iter(points.rows().into_iter().map(|r| u(&r.to_vec())));
        Ok(TestError { feats, exact })
    }

    pub fn of(&self, tt: &TensorTrain) -> f64 {
        let fv: Vec<_> = self.feats.iter().map(|f| f.view()).collect();
        let v = values(tt, &fv, Par::Seq).expect("test features match the model");
        let e = &v - &self.exact;
        (e.dot(&e) / self.exact.dot(&self.exact)).sqrt()
    }
}

/// Run `methods` from `x0`, print the summary table, write the report into `dir`.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    title: &str,
    dir: &str,
    problem: &ResidualProblem,
    x0: &TensorTrain,
    methods: &[Method],
    opts: &SolveOptions,
    err: &TestError,
    thresholds: &[f64],
) -> ttfit::Result<Vec<RunRecord>> {
    let mut runs = Vec::new();
    for &m in methods {
        let (_, rec) = solve(problem, x0, m, opts, &|tt| err.of(tt))?;
        runs.push(rec);
    }
    println!("\n## {title}\n");
    println!("{}", summary_text(&runs, thresholds));
    for r in &runs {
        let last = r.history.last().expect("recorded");
        println!(
            "{:<22} iterations {:>4}  seconds {:>8.3}  final error {:.3e}  restarts {:>3}  stop: {}",
            r.name,
            r.iterations(),
            r.seconds(),
            last.test_error.unwrap_or(f64::NAN),
            r.restarts,
            r.stop
        );
    }
    let files = write_report_with_thresholds(&runs, dir, title, thresholds)?;
    println!(
        "report: {}",
        files
            .all()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(runs)
}
