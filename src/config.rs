//! Fit configuration files (TOML), merged field by field with the defaults and the
//! command-line options: defaults ← file ← options.
//!
//! The file holds the fields of [`FitConfig`] (format and complete example: `docs/CONFIG.md`).
//! Every field is optional and has a default; tables (`[stopping]`, `[optimizer]`, ...) merge
//! key by key, so a partial table changes only the keys it names. Unknown keys are errors that
//! name the key, its table and the closest known key. The set of known keys is the serialized
//! default configuration itself, so a field added to [`FitConfig`] (or to an optimizer's
//! configuration) is accepted by the file without any change here.
//!
//! Conveniences on top of the serde layout: `basis = "legendre:8"` (the `--basis` syntax),
//! `bases = ["legendre:8", "hermite:6"]`, `rank = 4`, `start = "random"`,
//! `optimizer = "ngd-hb"` or `[optimizer] method = "ngd-hb"` (any `--optimizer` name), and
//! `[stopping] time_limit = 60` (seconds).

use crate::basis::Basis;
use crate::error::{Error, Result};
use crate::fit::FitConfig;
use crate::optim::OptimizerConfig;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Keys whose value selects the variant of a tagged table: when an overlay changes it, the
/// table is replaced instead of merged (the fields of one variant mean nothing to another).
const TAGS: &[&str] = &["method", "kind", "rule", "family"];

/// A parsed, key-checked configuration file. Apply it with [`ConfigFile::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    /// The file's table, normalized to the serde layout of [`FitConfig`].
    table: Map<String, Value>,
    /// The optimizer name given by the file (`optimizer = "..."` or `[optimizer] method`).
    method: Option<String>,
    /// Dotted paths of every key the file sets (`stopping.max_iter`).
    set: BTreeSet<String>,
}

fn err(message: impl Into<String>) -> Error {
    Error::param("--config", message)
}

/// The closest of `known` to `key` (Jaro-Winkler similarity above 0.7), for "did you mean".
fn suggestion<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> String {
    let best = known
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .filter(|(s, _)| *s > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("; did you mean '{k}'?"),
        None => String::new(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

fn display_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Overlays `over` onto `base` key by key. Unknown keys and values of the wrong kind are
/// errors naming the dotted path.
fn overlay(base: &mut Value, over: &Value, path: &str) -> Result<()> {
    let (Value::Object(b), Value::Object(o)) = (&mut *base, over) else {
        *base = over.clone();
        return Ok(());
    };
    // a changed variant tag replaces the whole table
    if TAGS
        .iter()
        .any(|t| o.get(*t).is_some_and(|v| b.get(*t) != Some(v)))
    {
        *base = over.clone();
        return Ok(());
    }
    for (key, value) in o {
        let p = display_path(path, key);
        match b.get_mut(key) {
            None => {
                let table = if path.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("table [{path}]")
                };
                return Err(err(format!(
                    "unknown key '{p}' in {table}{}; known keys there: {}",
                    suggestion(key, b.keys()),
                    b.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            Some(slot) => {
                let compatible = match (&*slot, value) {
                    (Value::Null, _) | (_, Value::Null) => true,
                    (Value::Number(_), Value::Number(_))
                    | (Value::String(_), Value::String(_))
                    | (Value::Bool(_), Value::Bool(_))
                    | (Value::Array(_), Value::Array(_))
                    | (Value::Object(_), Value::Object(_)) => true,
                    // unit enum variants serialize as strings, data variants as tables
                    (Value::String(_), Value::Object(_)) | (Value::Object(_), Value::String(_)) => {
                        true
                    }
                    _ => false,
                };
                if !compatible {
                    return Err(err(format!(
                        "'{p}' must be {}, got {}",
                        kind_of(slot),
                        kind_of(value)
                    )));
                }
                overlay(slot, value, &p)?;
            }
        }
    }
    Ok(())
}

/// Dotted paths of every leaf key in `v`.
fn collect_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(o) = v {
        for (k, x) in o {
            let p = display_path(path, k);
            out.insert(p.clone());
            collect_paths(x, &p, out);
        }
    }
}

/// Refuses non-finite floats anywhere in the file, naming the key.
fn check_finite(v: &toml::Value, path: &str) -> Result<()> {
    match v {
        toml::Value::Float(f) if !f.is_finite() => Err(err(format!(
            "'{path}' is {f}; configuration values must be finite numbers"
        ))),
        toml::Value::Table(t) => t
            .iter()
            .try_for_each(|(k, x)| check_finite(x, &display_path(path, k))),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_finite(x, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

fn basis_value(v: &Value, what: &str) -> Result<Value> {
    match v {
        Value::String(s) => {
            let b = Basis::parse(s).map_err(|e| err(format!("{what}: {e}")))?;
            serde_json::to_value(b).map_err(|e| err(format!("{what}: {e}")))
        }
        other => Ok(other.clone()),
    }
}

fn json_of<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| err(format!("cannot represent the configuration: {e}")))
}

impl ConfigFile {
    /// Parses TOML text and checks every key against the default configuration (and the
    /// optimizer the file names). Never panics (the fuzz target `config` checks this).
    pub fn parse(text: &str) -> Result<ConfigFile> {
        let toml: toml::Table =
            toml::from_str(text).map_err(|e| err(format!("not valid TOML: {e}")))?;
        // JSON has no NaN or infinity: they would silently become "unset"
        check_finite(&toml::Value::Table(toml.clone()), "")?;
        let Value::Object(mut table) = json_of(&toml)? else {
            return Err(err("the file must be a TOML table"));
        };
        // conveniences -> serde layout
        if let Some(v) = table.get("basis") {
            let v = basis_value(v, "basis")?;
            table.insert("basis".into(), v);
        }
        if let Some(Value::Array(items)) = table.get("bases") {
            let items = items
                .iter()
                .enumerate()
                .map(|(k, b)| basis_value(b, &format!("bases[{k}]")))
                .collect::<Result<Vec<_>>>()?;
            table.insert("bases".into(), Value::Array(items));
        }
        if let Some(Value::Number(n)) = table.get("rank") {
            let n = n.clone();
            table.insert("rank".into(), Value::Array(vec![Value::Number(n)]));
        }
        if table.get("start").and_then(Value::as_str) == Some("random") {
            table.insert(
                "start".into(),
                serde_json::json!({ "random": { "scale": 1.0 } }),
            );
        }
        if let Some(Value::Object(stop)) = table.get_mut("stopping") {
            if let Some(t) = stop.get("time_limit").cloned() {
                let secs = t.as_f64().ok_or_else(|| {
                    err(format!(
                        "'stopping.time_limit' must be a number of seconds, got {}",
                        kind_of(&t)
                    ))
                })?;
                if !(secs.is_finite() && secs > 0.0 && secs < 1e15) {
                    return Err(err(format!(
                        "'stopping.time_limit' must be a positive number of seconds, got {secs}"
                    )));
                }
                let d = std::time::Duration::from_secs_f64(secs);
                stop.insert("time_limit".into(), json_of(&d)?);
            }
        }
        let method = match table.get("optimizer") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => match o.get("method") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(err(format!(
                        "'optimizer.method' must be a string (an --optimizer name), got {}",
                        kind_of(other)
                    )))
                }
            },
            Some(other) => {
                return Err(err(format!(
                    "'optimizer' must be a name or a table, got {}",
                    kind_of(other)
                )))
            }
        };
        // the method is handled by from_name; the rest of the table is overlaid
        match table.get_mut("optimizer") {
            Some(Value::Object(o)) => {
                o.remove("method");
            }
            Some(_) => {
                table.insert("optimizer".into(), Value::Object(Map::new()));
            }
            None => {}
        }
        let mut set = BTreeSet::new();
        collect_paths(&Value::Object(table.clone()), "", &mut set);
        if method.is_some() {
            set.insert("optimizer.method".into());
        }
        let file = ConfigFile { table, method, set };
        // check keys and kinds now, against the defaults; an [optimizer] table without a
        // method belongs to whatever --optimizer names, so it is checked by `apply`
        if file.method.is_some() || !file.table.contains_key("optimizer") {
            file.apply(&FitConfig::default(), None)?;
        } else {
            let mut rest = file.clone();
            rest.table.remove("optimizer");
            rest.apply(&FitConfig::default(), None)?;
        }
        Ok(file)
    }

    /// Whether the file sets the dotted key `path` (`"stopping.max_iter"`, `"optimizer"`).
    pub fn is_set(&self, path: &str) -> bool {
        self.set.contains(path)
    }

    /// The optimizer name the file gives, if any.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// `base` with the file overlaid field by field. `optimizer_option` is the `--optimizer`
    /// value of the command line, which wins over the file's method: the file's optimizer
    /// settings are kept when both name the same method, and dropped (the second return value
    /// says so) when they differ.
    pub fn apply(
        &self,
        base: &FitConfig,
        optimizer_option: Option<&str>,
    ) -> Result<(FitConfig, Option<String>)> {
        let mut note = None;
        let mut cfg = base.clone();
        let file_method = self
            .method
            .as_deref()
            .map(OptimizerConfig::from_name)
            .transpose()
            .map_err(|e| err(e.to_string()))?;
        let mut table = self.table.clone();
        match (optimizer_option, file_method) {
            (Some(flag), file) => {
                cfg.optimizer = OptimizerConfig::from_name(flag)?;
                if file.is_some() {
                    // names, not serde tags: presets of one optimizer (ngd-hb, ngd-nesterov)
                    // share a tag but not their settings
                    if self.method.as_deref() != Some(flag) {
                        note = Some(format!(
                            "--optimizer {flag} overrides the file's optimizer '{}'; its [optimizer] settings are ignored",
                            self.method.as_deref().unwrap_or_default()
                        ));
                        table.remove("optimizer");
                    }
                }
            }
            (None, Some(f)) => cfg.optimizer = f,
            (None, None) => {}
        }
        let mut merged = json_of(&cfg)?;
        overlay(&mut merged, &Value::Object(table), "")?;
        let cfg: FitConfig =
            serde_json::from_value(merged).map_err(|e| err(format!("invalid value: {e}")))?;
        Ok((cfg, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_stopping_table_keeps_the_other_defaults() {
        let f = ConfigFile::parse("[stopping]\nmax_iter = 7\n").unwrap();
        let (cfg, _) = f.apply(&FitConfig::default(), None).unwrap();
        let mut want = FitConfig::default();
        want.stopping.max_iter = 7;
        assert_eq!(cfg, want);
        assert!(f.is_set("stopping.max_iter"));
        assert!(!f.is_set("stopping.rel_tol"));
    }

    /// The learner's options come from a `[learn]` table; unnamed keys keep their defaults.
    #[test]
    fn learner_options_in_a_file() {
        let f = ConfigFile::parse("[learn]\nprune = 1e-4\ntime_limit = 2.5\n").unwrap();
        let (cfg, _) = f.apply(&FitConfig::default(), None).unwrap();
        assert_eq!(
            cfg.learn,
            Some(crate::learn::LearnConfig {
                prune: Some(1e-4),
                time_limit: Some(2.5),
                ..Default::default()
            })
        );
    }

    /// Rank continuation from a `[rank_continuation]` table; an empty table is the default
    /// tolerance.
    #[test]
    fn rank_continuation_in_a_file() {
        for (text, tol) in [
            ("[rank_continuation]\nstall_tol = 0.25\n", 0.25),
            (
                "[rank_continuation]\n",
                crate::learn::continuation::DEFAULT_STALL_TOL,
            ),
        ] {
            let f = ConfigFile::parse(text).unwrap();
            let (cfg, _) = f.apply(&FitConfig::default(), None).unwrap();
            assert_eq!(
                cfg.rank_continuation,
                Some(crate::learn::continuation::RankContinuation { stall_tol: tol })
            );
        }
    }

    #[test]
    fn unknown_key_is_an_error_with_a_suggestion() {
        let e = ConfigFile::parse("[stopping]\nmax_itre = 7\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key 'stopping.max_itre'"), "{e}");
        assert!(e.contains("did you mean 'max_iter'"), "{e}");
        let e = ConfigFile::parse("rnak = 3\n").unwrap_err().to_string();
        assert!(e.contains("did you mean 'rank'"), "{e}");
    }

    #[test]
    fn optimizer_table_survives_unless_the_option_names_another_method() {
        let f = ConfigFile::parse(
            "[optimizer]\nmethod = \"ngd-hb\"\n[optimizer.momentum]\nbeta = 0.5\n",
        )
        .unwrap();
        let (cfg, note) = f.apply(&FitConfig::default(), None).unwrap();
        let OptimizerConfig::Momentum(c) = &cfg.optimizer else {
            panic!("{cfg:?}")
        };
        assert_eq!(c.momentum.beta, 0.5);
        assert!(note.is_none());
        let (same, note) = f.apply(&FitConfig::default(), Some("ngd-hb")).unwrap();
        assert_eq!(same, cfg);
        assert!(note.is_none());
        let (other, note) = f.apply(&FitConfig::default(), Some("als")).unwrap();
        assert!(matches!(other.optimizer, OptimizerConfig::Als(_)));
        assert!(note.is_some());
    }

    #[test]
    fn optimizer_table_without_method_goes_with_the_option() {
        let f = ConfigFile::parse("[optimizer]\ndescent_tol = 0.5\n").unwrap();
        let (cfg, _) = f.apply(&FitConfig::default(), Some("rcg")).unwrap();
        let OptimizerConfig::Rcg(c) = &cfg.optimizer else {
            panic!("{cfg:?}")
        };
        assert_eq!(c.descent_tol, 0.5);
        // the default optimizer has no such key
        assert!(f.apply(&FitConfig::default(), None).is_err());
    }

    #[test]
    fn conveniences_match_the_serde_layout() {
        let f = ConfigFile::parse(
            "basis = \"hermite:5\"\nrank = 3\nstart = \"random\"\n[stopping]\ntime_limit = 2.5\n",
        )
        .unwrap();
        let (cfg, _) = f.apply(&FitConfig::default(), None).unwrap();
        assert_eq!(cfg.basis, Basis::parse("hermite:5").unwrap());
        assert_eq!(cfg.rank, vec![3]);
        assert_eq!(
            cfg.stopping.time_limit,
            Some(std::time::Duration::from_millis(2500))
        );
    }

    /// The examples of docs/CONFIG.md parse; the complete one spells out the defaults.
    #[test]
    fn documented_examples_parse() {
        let doc = include_str!("../docs/CONFIG.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 2);
        let full = ConfigFile::parse(blocks[0]).unwrap();
        let (cfg, _) = full.apply(&FitConfig::default(), None).unwrap();
        assert_eq!(cfg, FitConfig::default());
        let short = ConfigFile::parse(blocks[1]).unwrap();
        let (cfg, _) = short.apply(&FitConfig::default(), None).unwrap();
        assert_eq!(cfg.rank, vec![3]);
        let OptimizerConfig::Momentum(c) = &cfg.optimizer else {
            panic!("{cfg:?}")
        };
        assert_eq!(c.momentum.beta, 0.7);
        assert!(short.is_set("stopping.time_limit"));
    }

    /// The damping of the natural gradient can be switched off in a file (TOML has no null).
    #[test]
    fn damping_off_in_a_file() {
        let f = ConfigFile::parse(
            "[optimizer]\nmethod = \"ngd\"\n[optimizer.damping]\nrule = \"off\"\n",
        )
        .unwrap();
        let (cfg, _) = f.apply(&FitConfig::default(), None).unwrap();
        let OptimizerConfig::Ngd(c) = &cfg.optimizer else {
            panic!("{cfg:?}")
        };
        assert_eq!(c.damping, crate::optim::damping::DampingRule::Off);
    }

    #[test]
    fn wrong_kinds_name_the_key() {
        let e = ConfigFile::parse("[stopping]\nmax_iter = \"ten\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'stopping.max_iter' must be a number"), "{e}");
    }
}
