//! Versioned JSON model files, written atomically and read with validation.
//!
//! Layout (version 2, written by this build):
//! ```json
//! { "format": "ttfit-model", "version": 2, "ttfit_version": "0.1.0",
//!   "checksum": "crc32:1a2b3c4d",
//!   "features": [ {"name": "x1", "basis": {"family": "legendre", "n": 8},
//!                  "map": {"kind": "interval", "lo": 0, "hi": 1}}, ... ],
//!   "ranks": [1, 4, ..., 1],
//!   "cores": [ [..row-major r_{k-1} x n_k x r_k values..], ... ],
//!   "training": { ..., "settings": { ..the FitConfig of the run.. } } }
//! ```
//!
//! `checksum` is the CRC-32 of the canonical JSON of every other field (keys sorted, no
//! whitespace, numbers in shortest round-trip form), so any change to the cores, the features,
//! the ranks or the metadata after writing is detected and the file is refused. It protects
//! against accidental damage and hand edits, not against a deliberate forgery (a CRC is not a
//! signature). Version 1 files (no checksum, written by earlier builds) are still read.

use crate::basis::{FeatureMap, VariableFeatures};
use crate::error::{Error, Result};
use crate::model::FunctionalTT;
use ndarray::Array3;
use std::path::Path;
use tensor_train::TensorTrain;

/// The format tag of every model file.
pub const FORMAT: &str = "ttfit-model";
/// The version this build writes and the newest it reads.
pub const VERSION: u32 = 2;
/// The oldest version this build reads (version 1: no checksum).
pub const OLDEST_READABLE: u32 = 1;
/// Largest number of core entries a model file may declare (2^31 values, 16 GiB): a bound
/// checked before anything is allocated.
pub const MAX_CORE_VALUES: usize = 1 << 31;

/// What was done to produce a model (informational; not needed to predict).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingInfo {
    /// ttfit version that wrote the file.
    pub ttfit_version: String,
    /// Optimizer name.
    pub optimizer: String,
    /// Full optimizer configuration.
    pub optimizer_config: Option<serde_json::Value>,
    /// Iterations run.
    pub iterations: usize,
    /// Optimizer seconds.
    pub seconds: f64,
    /// Why training stopped.
    pub stop_reason: String,
    /// Training samples.
    pub n_train: usize,
    /// Relative L2 error on the training set.
    pub train_error: f64,
    /// Relative L2 error on the validation set.
    pub validation_error: Option<f64>,
    /// Relative L2 error on the test set.
    pub test_error: Option<f64>,
    /// Seed of the run.
    pub seed: u64,
    /// Target column name.
    pub target: String,
    /// Where the training data came from.
    pub data_source: Option<String>,
    /// The complete training settings (the `FitConfig` of the run, as JSON).
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// For a classifier: the loss, the classes and the classification metrics (absent in
    /// regression models and in files written before classification existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassificationInfo>,
}

/// What a classifier's model file records (MATH.md §8): the model values are logits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassificationInfo {
    /// `logistic` (one logit per input, `P(y = 1) = sigma(v)`) or `softmax` (the model's
    /// last input is the class, [`crate::fit::CLASS_INPUT`]; `v(x, c)` is the logit of class `c`).
    pub loss: String,
    /// Number of classes (labels `0..classes-1`).
    pub classes: usize,
    /// Share of correct labels on the training rows.
    pub train_accuracy: f64,
    /// Mean log-loss on the training rows.
    pub train_log_loss: f64,
    /// Share of correct labels on the test rows.
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// Mean log-loss on the test rows.
    #[serde(default)]
    pub test_log_loss: Option<f64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileV1 {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttfit_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    /// `"density"` for a squared-TT density ([`ModelKind::Density`]); absent for regression
    /// models (so files without it, older ones included, read as regression models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    features: Vec<VariableFeatures>,
    ranks: Vec<usize>,
    cores: Vec<Vec<f64>>,
    #[serde(default)]
    training: Option<TrainingInfo>,
}

/// CRC-32 of the canonical JSON of `value` without its `checksum` field, as `crc32:%08x`.
fn checksum(value: &serde_json::Value) -> String {
    let mut v = value.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("checksum");
    }
    // serde_json's map is ordered by key: the text is canonical
    let text = v.to_string();
    format!("crc32:{:08x}", crc32fast::hash(text.as_bytes()))
}

/// What a model file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModelKind {
    /// A regression model `v(x)` (`ttfit fit`).
    #[default]
    Regression,
    /// A density `p = ψ^2 ρ_μ` with `||Ψ||_F = 1` ([`crate::density`], `ttfit density`): the
    /// TT is `ψ`; the field `"model": "density"` records it.
    Density,
}

/// The file text of `model` with its metadata and checksum.
pub fn to_string(model: &FunctionalTT, training: Option<&TrainingInfo>) -> Result<String> {
    to_string_kind(model, training, ModelKind::Regression)
}

/// [`to_string`] for a model of the given kind.
pub fn to_string_kind(
    model: &FunctionalTT,
    training: Option<&TrainingInfo>,
    kind: ModelKind,
) -> Result<String> {
    let tt = model.tt();
    let file = FileV1 {
        format: FORMAT.into(),
        version: VERSION,
        ttfit_version: Some(env!("CARGO_PKG_VERSION").into()),
        checksum: None,
        model: (kind == ModelKind::Density).then(|| "density".to_string()),
        features: model.features().variables().to_vec(),
        ranks: tt.ranks(),
        cores: tt
            .cores()
            .iter()
            .map(|c| c.iter().cloned().collect())
            .collect(),
        training: training.cloned(),
    };
    if let Some((k, _)) = file
        .cores
        .iter()
        .enumerate()
        .find(|(_, c)| c.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::Diverged {
            iteration: 0,
            message: format!("core {k} of the model holds non-finite values; nothing was written"),
        });
    }
    let mut value = serde_json::to_value(&file).map_err(|e| Error::ModelFile {
        path: "<model>".into(),
        message: format!("cannot serialize: {e}"),
    })?;
    let sum = checksum(&value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("checksum".into(), serde_json::Value::String(sum));
    }
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| Error::ModelFile {
        path: "<model>".into(),
        message: format!("cannot serialize: {e}"),
    })?;
    text.push('\n');
    Ok(text)
}

/// Write `model` (and optional metadata) to `path` atomically: a temporary file in the same
/// directory is renamed over `path` only once completely written (see
/// [`crate::data::write_atomic`], which also writes through symbolic links).
pub fn save(
    model: &FunctionalTT,
    training: Option<&TrainingInfo>,
    path: impl AsRef<Path>,
) -> Result<()> {
    save_kind(model, training, ModelKind::Regression, path)
}

/// [`save`] for a model of the given kind.
pub fn save_kind(
    model: &FunctionalTT,
    training: Option<&TrainingInfo>,
    kind: ModelKind,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let text = to_string_kind(model, training, kind)?;
    crate::data::csv::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes()).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// Read and validate a model file.
pub fn load(path: impl AsRef<Path>) -> Result<(FunctionalTT, Option<TrainingInfo>)> {
    let (m, t, _) = load_kind(path)?;
    Ok((m, t))
}

/// [`load`], also returning what the file holds.
pub fn load_kind(
    path: impl AsRef<Path>,
) -> Result<(FunctionalTT, Option<TrainingInfo>, ModelKind)> {
    let path = path.as_ref();
    let meta = std::fs::metadata(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if meta.is_dir() {
        return Err(Error::ModelFile {
            path: path.to_path_buf(),
            message: "is a directory; name the model file written by `ttfit fit`".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse_kind(&bytes, path)
}

/// Parse and validate the bytes of a model file; `path` names it in messages. Never panics
/// (the fuzz target `model_file` checks this).
pub fn parse(bytes: &[u8], path: &Path) -> Result<(FunctionalTT, Option<TrainingInfo>)> {
    let (m, t, _) = parse_kind(bytes, path)?;
    Ok((m, t))
}

/// [`parse`], also returning what the file holds.
pub fn parse_kind(
    bytes: &[u8],
    path: &Path,
) -> Result<(FunctionalTT, Option<TrainingInfo>, ModelKind)> {
    let bad = |message: String| Error::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "not UTF-8 text (byte {}); a model file is JSON written by `ttfit fit`",
            e.valid_up_to()
        ))
    })?;
    // check the header first so a wrong version gets its own message
    let head: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            bad(format!(
                "the file ends early at line {} (truncated?); write it again with `ttfit fit`",
                e.line()
            ))
        } else {
            bad(format!("not valid JSON ({e})"))
        }
    })?;
    match head.get("format").and_then(|v| v.as_str()) {
        Some(FORMAT) => {}
        Some(other) => return Err(bad(format!("format is \"{other}\", expected \"{FORMAT}\""))),
        None => {
            return Err(bad(format!(
                "no \"format\": \"{FORMAT}\" field; this is not a ttfit model file"
            )))
        }
    }
    let version = head
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| bad("no \"version\" field".into()))?;
    if !(OLDEST_READABLE as u64..=VERSION as u64).contains(&version) {
        return Err(bad(format!(
            "format version {version} is not supported: this ttfit ({}) reads versions {OLDEST_READABLE} to {VERSION}{}",
            env!("CARGO_PKG_VERSION"),
            if version > VERSION as u64 {
                "; the file was written by a newer ttfit: upgrade ttfit"
            } else {
                ""
            }
        )));
    }
    if version >= 2 {
        let stored = head
            .get("checksum")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                bad("no \"checksum\" field (required from version 2); the file was edited or damaged: write it again with `ttfit fit`".into())
            })?;
        let actual = checksum(&head);
        if stored != actual {
            return Err(bad(format!(
                "checksum mismatch (stored {stored}, content {actual}): the file was changed after ttfit wrote it; restore it or write it again with `ttfit fit`"
            )));
        }
    }
    let file: FileV1 =
        serde_json::from_value(head).map_err(|e| bad(format!("invalid content: {e}")))?;
    let kind = match file.model.as_deref() {
        None => ModelKind::Regression,
        Some("density") => ModelKind::Density,
        Some(other) => {
            return Err(bad(format!(
                "\"model\" is \"{other}\"; this ttfit knows \"density\" (or no field, a regression model)"
            )))
        }
    };
    let d = file.features.len();
    if file.ranks.len() != d + 1 {
        return Err(bad(format!(
            "{} ranks for {d} variables; expected d + 1 = {}",
            file.ranks.len(),
            d + 1
        )));
    }
    if file.cores.len() != d {
        return Err(bad(format!("{} cores for {d} variables", file.cores.len())));
    }
    // sizes are checked against the data actually present before any allocation
    for (k, data) in file.cores.iter().enumerate() {
        if data.len() > MAX_CORE_VALUES {
            return Err(bad(format!(
                "core {k} has {} values, more than the supported {MAX_CORE_VALUES}",
                data.len()
            )));
        }
    }
    let features =
        FeatureMap::new(file.features).map_err(|e| bad(format!("invalid features: {e}")))?;
    let sizes = features.mode_sizes();
    let mut cores = Vec::with_capacity(d);
    for (k, data) in file.cores.into_iter().enumerate() {
        let shape = (file.ranks[k], sizes[k], file.ranks[k + 1]);
        let expected = shape
            .0
            .checked_mul(shape.1)
            .and_then(|v| v.checked_mul(shape.2));
        if expected != Some(data.len()) {
            return Err(bad(format!(
                "core {k} has {} values; ranks {} and {} with {} features need {}",
                data.len(),
                shape.0,
                shape.2,
                shape.1,
                expected.map_or("more than 2^64".to_string(), |e| e.to_string())
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("core {k}, value {i} is not finite")));
        }
        cores.push(Array3::from_shape_vec(shape, data).map_err(|e| bad(format!("core {k}: {e}")))?);
    }
    let tt = TensorTrain::from_cores(cores).map_err(|e| bad(format!("invalid cores: {e}")))?;
    let model = FunctionalTT::new(features, tt).map_err(|e| bad(e.to_string()))?;
    if kind == ModelKind::Density {
        let norm = model.tt().norm().map_err(|e| bad(e.to_string()))?;
        if (norm - 1.0).abs() > 1e-10 || norm.is_nan() {
            return Err(bad(format!(
                "a density model must have ||psi|| = 1, this one has {norm:e}; write it again with `ttfit density`"
            )));
        }
    }
    Ok((model, file.training, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::{Basis, InputMap};
    use rand::SeedableRng;

    fn model() -> FunctionalTT {
        let features = FeatureMap::from_parts(
            vec![Basis::Legendre { n: 3 }; 3],
            vec![InputMap::Interval { lo: -1.0, hi: 1.0 }; 3],
            vec!["a".into(), "b".into(), "c".into()],
        )
        .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let tt = TensorTrain::random(
            &[3, 3, 3],
            &[2, 2],
            tensor_train::CoreDistribution::ScaledNormal,
            &mut rng,
        )
        .unwrap();
        FunctionalTT::new(features, tt).unwrap()
    }

    #[test]
    fn round_trip_keeps_cores_bitwise_and_any_edit_is_refused() {
        let m = model();
        let info = TrainingInfo {
            seed: 3,
            ..Default::default()
        };
        let text = to_string(&m, Some(&info)).unwrap();
        let (back, back_info) = parse(text.as_bytes(), Path::new("m.json")).unwrap();
        assert_eq!(back.tt().cores(), m.tt().cores());
        assert_eq!(back_info, Some(info));
        // change one digit of the numbers in turn: the checksum catches every edit that
        // changes a value (a digit beyond f64 precision may parse to the same value: then the
        // model read back must be exactly the original)
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let digits: Vec<usize> = text
            .char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .collect();
        let mut checked = 0;
        for &i in digits.iter().step_by(7) {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'9' { b'1' } else { bytes[i] + 1 };
            let edited = String::from_utf8(bytes).unwrap();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&edited) else {
                continue;
            };
            if v.get("checksum") != original.get("checksum") {
                continue;
            }
            match parse(edited.as_bytes(), Path::new("m.json")) {
                Err(e) => {
                    let e = e.to_string();
                    assert!(
                        e.contains("checksum mismatch") || e.contains("version"),
                        "{e}"
                    );
                    checked += 1;
                }
                Ok((same, _)) => {
                    assert_eq!(v, original, "an edit that changes a value was accepted");
                    assert_eq!(same.tt().cores(), m.tt().cores());
                }
            }
        }
        assert!(checked > 20, "{checked}");
    }

    #[test]
    fn version_1_files_are_still_read() {
        let m = model();
        let text = to_string(&m, None).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("checksum");
        obj.insert("version".into(), 1.into());
        let (back, _) = parse(v.to_string().as_bytes(), Path::new("old.json")).unwrap();
        assert_eq!(back.tt().cores(), m.tt().cores());
    }
}
