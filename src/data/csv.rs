//! CSV input and output.
//!
//! Reading ([`Dataset::from_csv`], [`read_inputs`]): a header row with column names is
//! required; fields are trimmed; every data row must have as many fields as the header. Errors
//! name the file, the 1-based data row and its line in the file, and the column, e.g.
//! `data.csv, data row 12 (line 13), column "x3": "abc" is not a number`.
//!
//! Writing ([`write_csv`], [`write_matrix_csv`], [`Dataset::to_csv`],
//! [`InputTable::write_with_columns`]) is atomic: the table goes to a temporary file in the
//! same directory, which is synced and renamed over the destination only when complete
//! ([`write_atomic`]), so an error never leaves a half-written file behind.

use super::Dataset;
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A parsed CSV file: header, raw records and their line numbers.
struct RawTable {
    file: String,
    header: Vec<String>,
    records: Vec<::csv::StringRecord>,
    lines: Vec<u64>,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Converts a csv-crate error into ours, keeping the OS error when there is one.
fn csv_error(path: &Path, file: &str, e: ::csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => io_error(path, source),
        kind => {
            let location = match line {
                Some(l) => format!("{file}, line {l}"),
                None => file.to_string(),
            };
            let message = match kind {
                ::csv::ErrorKind::Utf8 { .. } => {
                    "invalid UTF-8 text; save the file as UTF-8 CSV".to_string()
                }
                other => format!("malformed CSV: {other:?}"),
            };
            Error::data(location, message)
        }
    }
}

fn read_raw(path: &Path) -> Result<RawTable> {
    let handle = File::open(path).map_err(|e| io_error(path, e))?;
    if handle.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::data(
            path.display().to_string(),
            "is a directory; name a CSV file",
        ));
    }
    read_raw_from(std::io::BufReader::new(handle), path)
}

/// Parses a CSV table from `source`; `path` names it in messages.
fn read_raw_from(source: impl Read, path: &Path) -> Result<RawTable> {
    let file = path.display().to_string();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(source);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &file, e))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(Error::data(
            file,
            "the file is empty; expected a header row with column names followed by data rows",
        ));
    }
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(path, &file, e))?;
        let line = rec
            .position()
            .map_or(records.len() as u64 + 2, |p| p.line());
        if rec.len() != header.len() {
            return Err(Error::data(
                format!("{file}, data row {} (line {line})", records.len() + 1),
                format!(
                    "has {} fields but the header has {} columns; every row needs one value per column",
                    rec.len(),
                    header.len()
                ),
            ));
        }
        records.push(rec);
        lines.push(line);
    }
    if records.is_empty() {
        return Err(Error::data(
            file,
            "has a header row but no data rows; at least one data row is needed",
        ));
    }
    Ok(RawTable {
        file,
        header,
        records,
        lines,
    })
}

impl RawTable {
    /// Column index of `name`, with errors listing the available columns.
    fn column(&self, name: &str, role: &str) -> Result<usize> {
        let matches: Vec<usize> = self
            .header
            .iter()
            .enumerate()
            .filter(|(_, h)| *h == name)
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [i] => Ok(*i),
            [] => {
                let hint = if self.header.iter().all(|h| h.parse::<f64>().is_ok()) {
                    " (the first line looks numeric: the file needs a header row of column names)"
                } else if self.header.len() == 1 && self.header[0].contains(';') {
                    " (the header looks semicolon-separated: ttfit reads comma-separated files)"
                } else if self.header.len() == 1 && self.header[0].contains('\t') {
                    " (the header looks tab-separated: ttfit reads comma-separated files)"
                } else {
                    ""
                };
                Err(Error::data(
                    self.file.clone(),
                    format!(
                        "no {role} column \"{name}\"; available columns: {}{hint}",
                        self.available()
                    ),
                ))
            }
            many => Err(Error::data(
                self.file.clone(),
                format!(
                    "column name \"{name}\" appears {} times (columns {}); column names must be unique",
                    many.len(),
                    many.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    fn available(&self) -> String {
        self.header
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses the cell of data row `r` (0-based), column `c` as a finite number.
    fn number(&self, r: usize, c: usize) -> Result<f64> {
        let raw = self.records[r].get(c).unwrap_or("");
        let location = || {
            format!(
                "{}, data row {} (line {}), column \"{}\"",
                self.file,
                r + 1,
                self.lines[r],
                self.header[c]
            )
        };
        if raw.is_empty() {
            return Err(Error::data(
                location(),
                "empty value; missing values are not supported: remove or fill the row",
            ));
        }
        let v: f64 = raw
            .parse()
            .map_err(|_| Error::data(location(), format!("\"{raw}\" is not a number")))?;
        if !v.is_finite() {
            return Err(Error::data(
                location(),
                format!("value \"{raw}\" is not finite; NaN and infinite values are not allowed"),
            ));
        }
        Ok(v)
    }

    /// The `N x cols.len()` matrix of the columns `cols`.
    fn matrix(&self, cols: &[usize]) -> Result<Array2<f64>> {
        let mut x = Array2::zeros((self.records.len(), cols.len()));
        for r in 0..self.records.len() {
            for (j, &c) in cols.iter().enumerate() {
                x[[r, j]] = self.number(r, c)?;
            }
        }
        Ok(x)
    }

    fn vector(&self, c: usize) -> Result<Array1<f64>> {
        (0..self.records.len()).map(|r| self.number(r, c)).collect()
    }

    /// Indices of `names`, or of every column not in `exclude` when `names` is `None`.
    fn input_columns(&self, names: Option<&[String]>, exclude: &[usize]) -> Result<Vec<usize>> {
        let cols: Vec<usize> = match names {
            Some(names) => {
                if names.is_empty() {
                    return Err(Error::param("inputs", "the list of input columns is empty"));
                }
                let cols = names
                    .iter()
                    .map(|n| self.column(n, "input"))
                    .collect::<Result<Vec<_>>>()?;
                for (n, c) in names.iter().zip(&cols) {
                    if exclude.contains(c) {
                        return Err(Error::param(
                            "inputs",
                            format!("column \"{n}\" is the target (or weight) column and cannot also be an input"),
                        ));
                    }
                }
                let mut seen = HashMap::new();
                for (n, c) in names.iter().zip(&cols) {
                    if seen.insert(*c, n).is_some() {
                        return Err(Error::param(
                            "inputs",
                            format!("column \"{n}\" is listed twice"),
                        ));
                    }
                }
                cols
            }
            None => {
                let cols: Vec<usize> = (0..self.header.len())
                    .filter(|c| !exclude.contains(c))
                    .collect();
                for &c in &cols {
                    if self.header[c].is_empty() {
                        return Err(Error::data(
                            self.file.clone(),
                            format!("column {} has no name in the header row", c + 1),
                        ));
                    }
                    // Duplicated names among the inputs are ambiguous.
                    self.column(&self.header[c], "input")?;
                }
                cols
            }
        };
        if cols.is_empty() {
            return Err(Error::data(
                self.file.clone(),
                format!(
                    "no input columns left besides the target; available columns: {}",
                    self.available()
                ),
            ));
        }
        Ok(cols)
    }
}

impl Dataset {
    /// Reads a data set from a CSV file with a header row. `target` names the target column;
    /// `inputs` the input columns in the order wanted (default: every other column, in file
    /// order). See the module documentation for the error messages.
    pub fn from_csv(
        path: impl AsRef<Path>,
        target: &str,
        inputs: Option<&[String]>,
    ) -> Result<Dataset> {
        Self::from_csv_weighted(path, target, inputs, None)
    }

    /// [`Dataset::from_csv`] with an optional column of non-negative sample weights (excluded
    /// from the default inputs).
    pub fn from_csv_weighted(
        path: impl AsRef<Path>,
        target: &str,
        inputs: Option<&[String]>,
        weights: Option<&str>,
    ) -> Result<Dataset> {
        let table = read_raw(path.as_ref())?;
        Self::from_table(table, target, inputs, weights)
    }

    /// [`Dataset::from_csv_weighted`] on CSV text from any reader (`name` names the source in
    /// messages). This is what the fuzz target `csv_reader` exercises.
    pub fn from_csv_reader(
        source: impl Read,
        name: &str,
        target: &str,
        inputs: Option<&[String]>,
        weights: Option<&str>,
    ) -> Result<Dataset> {
        let table = read_raw_from(source, Path::new(name))?;
        Self::from_table(table, target, inputs, weights)
    }

    fn from_table(
        table: RawTable,
        target: &str,
        inputs: Option<&[String]>,
        weights: Option<&str>,
    ) -> Result<Dataset> {
        let t = table.column(target, "target")?;
        let mut exclude = vec![t];
        let w_col = match weights {
            Some(w) => {
                let c = table.column(w, "weight")?;
                if c == t {
                    return Err(Error::param(
                        "weights",
                        "the weight column cannot be the target column",
                    ));
                }
                exclude.push(c);
                Some(c)
            }
            None => None,
        };
        let cols = table.input_columns(inputs, &exclude)?;
        let x = table.matrix(&cols)?;
        let y = table.vector(t)?;
        let w = match w_col {
            Some(c) => {
                let w = table.vector(c)?;
                if let Some(r) = w.iter().position(|&v| v < 0.0) {
                    return Err(Error::data(
                        format!(
                            "{}, data row {} (line {}), column \"{}\"",
                            table.file,
                            r + 1,
                            table.lines[r],
                            table.header[c]
                        ),
                        format!("weight {} is negative; weights must be >= 0", w[r]),
                    ));
                }
                Some(w)
            }
            None => None,
        };
        let names = cols.iter().map(|&c| table.header[c].clone()).collect();
        Dataset::new(x, y, w, names, table.header[t].clone())
            .map_err(|e| Error::data(table.file.clone(), e.to_string()))
    }

    /// Writes the data set as CSV (atomically): the inputs, the target and, if present, a
    /// `weight` column.
    pub fn to_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut header = self.input_names.clone();
        header.push(self.target_name.clone());
        if self.weights.is_some() {
            header.push("weight".to_string());
        }
        let rows: Vec<Vec<String>> = (0..self.n_samples())
            .map(|i| {
                let mut row: Vec<String> = self.x.row(i).iter().map(|&v| format_f64(v)).collect();
                row.push(format_f64(self.y[i]));
                if let Some(w) = &self.weights {
                    row.push(format_f64(w[i]));
                }
                row
            })
            .collect();
        write_csv(path, &header, &rows)
    }
}

/// An unlabeled table of inputs for prediction, as read by [`read_inputs`]: the selected
/// numeric columns plus the whole original table, so that every column (including
/// non-numeric ones such as ids) can be written back next to the predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTable {
    /// The file it came from.
    pub source: PathBuf,
    /// All column names of the file, in file order.
    pub header: Vec<String>,
    /// All fields of every data row (trimmed), in file order.
    pub rows: Vec<Vec<String>>,
    /// The requested input columns, `N x d`, in the order of `input_names`.
    pub x: Array2<f64>,
    /// The requested input names (the order of the columns of `x`).
    pub input_names: Vec<String>,
}

impl InputTable {
    /// Writes the original table with the columns `extra` (name, `N` values) appended — or
    /// replacing an existing column of the same name — atomically to `path`.
    pub fn write_with_columns(
        &self,
        path: impl AsRef<Path>,
        extra: &[(&str, ArrayView1<f64>)],
    ) -> Result<()> {
        let n = self.rows.len();
        let mut header = self.header.clone();
        let mut rows = self.rows.clone();
        for (name, values) in extra {
            if values.len() != n {
                return Err(Error::data(
                    format!("column \"{name}\""),
                    format!("has {} values for a table of {n} rows", values.len()),
                ));
            }
            match header.iter().position(|h| h == name) {
                Some(c) => {
                    for (row, &v) in rows.iter_mut().zip(values.iter()) {
                        row[c] = format_f64(v);
                    }
                }
                None => {
                    header.push((*name).to_string());
                    for (row, &v) in rows.iter_mut().zip(values.iter()) {
                        row.push(format_f64(v));
                    }
                }
            }
        }
        write_csv(path, &header, &rows)
    }
}

/// Reads the input columns `names` (matched by header name, in any order; other columns are
/// allowed and kept in [`InputTable::rows`]) from a CSV file with a header row.
pub fn read_inputs(path: impl AsRef<Path>, names: &[String]) -> Result<InputTable> {
    let path = path.as_ref();
    inputs_from_table(read_raw(path)?, path, names)
}

/// [`read_inputs`] on CSV text from any reader; `name` names the source in messages.
pub fn read_inputs_from(source: impl Read, name: &str, names: &[String]) -> Result<InputTable> {
    let path = Path::new(name);
    inputs_from_table(read_raw_from(source, path)?, path, names)
}

fn inputs_from_table(table: RawTable, path: &Path, names: &[String]) -> Result<InputTable> {
    let cols = table.input_columns(Some(names), &[])?;
    let x = table.matrix(&cols)?;
    let rows = table
        .records
        .iter()
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    Ok(InputTable {
        source: path.to_path_buf(),
        header: table.header,
        rows,
        x,
        input_names: names.to_vec(),
    })
}

/// Formats a number so that it reads back exactly (shortest round-trip representation), in
/// plain notation for `1e-5 <= |v| < 1e16` (and 0) and scientific notation otherwise.
pub fn format_f64(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-5..1e16).contains(&a) || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes a file atomically: `write` fills a buffered temporary file in the same directory as
/// `path` (named `.NAME.tmp.PID.COUNTER`), which is flushed, synced and renamed over `path` on
/// success and removed on any error. I/O errors name `path`. A symbolic link is written
/// through (see [`super::output::resolve`]); a destination that is not a regular file is refused.
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    // write through symbolic links: the link stays, its target is replaced
    let dest = super::output::resolve(path)?;
    if let Ok(m) = std::fs::metadata(&dest) {
        if !m.is_file() {
            return Err(Error::param(
                "output",
                format!(
                    "{} is not a regular file; outputs are written atomically (temporary file + rename), which needs a regular file path",
                    path.display()
                ),
            ));
        }
    }
    let name = dest.file_name().ok_or_else(|| {
        Error::param(
            "output",
            format!("\"{}\" is not a file path", path.display()),
        )
    })?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io_error(path, e))?;
    let mut writer = BufWriter::new(file);
    let result = write(&mut writer).and_then(|()| {
        writer.flush().map_err(|e| io_error(path, e))?;
        let file = writer
            .into_inner()
            .map_err(|e| io_error(path, e.into_error()))?;
        file.sync_all().map_err(|e| io_error(path, e))?;
        drop(file);
        std::fs::rename(&tmp, &dest).map_err(|e| io_error(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a table of strings with a header row as CSV, atomically ([`write_atomic`]).
/// Every row must have `header.len()` fields.
pub fn write_csv(path: impl AsRef<Path>, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    let path = path.as_ref();
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != header.len())
    {
        return Err(Error::data(
            format!("output row {i}"),
            format!("has {} fields but the header has {}", r.len(), header.len()),
        ));
    }
    write_atomic(path, |w| {
        let mut csv = ::csv::Writer::from_writer(w);
        let map = |e: ::csv::Error| match e.into_kind() {
            ::csv::ErrorKind::Io(source) => io_error(path, source),
            other => Error::data(
                path.display().to_string(),
                format!("CSV write error: {other:?}"),
            ),
        };
        csv.write_record(header).map_err(map)?;
        for r in rows {
            csv.write_record(r).map_err(map)?;
        }
        csv.flush().map_err(|e| io_error(path, e))
    })
}

/// Writes a numeric matrix (`N x header.len()`) with a header row as CSV, atomically.
pub fn write_matrix_csv(
    path: impl AsRef<Path>,
    header: &[String],
    data: ArrayView2<f64>,
) -> Result<()> {
    if data.ncols() != header.len() {
        return Err(Error::data(
            "output table",
            format!("{} columns but {} header names", data.ncols(), header.len()),
        ));
    }
    let rows: Vec<Vec<String>> = data
        .outer_iter()
        .map(|r| r.iter().map(|&v| format_f64(v)).collect())
        .collect();
    write_csv(path, header, &rows)
}
