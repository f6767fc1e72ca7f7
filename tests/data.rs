//! Integration tests of datasets: validation, CSV reading/writing with precise errors, atomic
//! writes, seeded splits and domain inference.

use ndarray::{array, Array1, Array2};
use std::fs;
use std::path::{Path, PathBuf};
use ttfit::basis::InputMap;
use ttfit::data::{
    infer_domain, infer_standardization, read_inputs, split_indices, write_atomic, write_csv,
    write_matrix_csv, Dataset, SplitSize, DEFAULT_DOMAIN_MARGIN,
};
use ttfit::Error;

/// A fresh, empty directory for one test, removed when dropped.
struct TestDir(PathBuf);

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn test_dir(name: &str) -> TestDir {
    let dir = std::env::temp_dir().join(format!("ttfit-test-data-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    TestDir(dir)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The error message of a failed read, which must be a Data error.
fn data_error(r: ttfit::Result<Dataset>) -> String {
    match r {
        Err(e @ Error::Data { .. }) => e.to_string(),
        other => panic!("expected a Data error, got {other:?}"),
    }
}

fn sample_dataset() -> Dataset {
    Dataset::new(
        array![
            [0.1, 2.0],
            [0.3, -1.5],
            [1e-9, 3.25e20],
            [0.7, 0.0],
            [0.9, 1.0 / 3.0]
        ],
        array![1.0, 2.0, -3.5, 0.125, std::f64::consts::PI],
        Some(array![1.0, 0.5, 0.0, 2.0, 1.0]),
        strings(&["a", "b"]),
        "y",
    )
    .unwrap()
}

#[test]
fn validation_names_row_and_column() {
    let e = Dataset::new(
        array![[1.0, f64::NAN]],
        array![1.0],
        None,
        strings(&["a", "b"]),
        "y",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("row 0") && e.to_string().contains("\"b\""),
        "{e}"
    );
    let e = Dataset::new(
        array![[1.0], [2.0]],
        array![1.0, f64::INFINITY],
        None,
        strings(&["a"]),
        "t",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("row 1") && e.to_string().contains("\"t\""),
        "{e}"
    );
    assert!(Dataset::from_arrays(Array2::zeros((0, 2)), Array1::zeros(0)).is_err());
    assert!(Dataset::from_arrays(Array2::zeros((3, 2)), Array1::zeros(2)).is_err());
    assert!(Dataset::new(array![[1.0]], array![1.0], None, strings(&["a", "b"]), "y").is_err());
    let neg = Dataset::new(
        array![[1.0], [2.0]],
        array![1.0, 2.0],
        Some(array![1.0, -1.0]),
        strings(&["a"]),
        "y",
    );
    assert!(neg.unwrap_err().to_string().contains("non-negative"));
    let zero = Dataset::new(
        array![[1.0]],
        array![1.0],
        Some(array![0.0]),
        strings(&["a"]),
        "y",
    );
    assert!(zero.is_err());
    let ok = Dataset::from_arrays(array![[1.0, 2.0]], array![3.0]).unwrap();
    assert_eq!(ok.input_names, strings(&["x1", "x2"]));
    assert_eq!((ok.n_samples(), ok.n_inputs()), (1, 2));
}

#[test]
fn csv_round_trip_is_exact() {
    let dir = test_dir("roundtrip");
    let ds = sample_dataset();
    let p = dir.join("data.csv");
    ds.to_csv(&p).unwrap();
    let back = Dataset::from_csv_weighted(&p, "y", None, Some("weight")).unwrap();
    assert_eq!(back, ds);
    // Without the weight column named, it is an ordinary input.
    let plain = Dataset::from_csv(&p, "y", None).unwrap();
    assert_eq!(plain.input_names, strings(&["a", "b", "weight"]));
    assert!(plain.weights.is_none());
}

#[test]
fn csv_column_selection() {
    let dir = test_dir("select");
    let p = write(&dir, "d.csv", "x1, x2 ,target,x3\n1,2,3,4\n5,6,7,8\n");
    let ds = Dataset::from_csv(&p, "target", None).unwrap();
    assert_eq!(ds.input_names, strings(&["x1", "x2", "x3"]));
    assert_eq!(ds.x, array![[1.0, 2.0, 4.0], [5.0, 6.0, 8.0]]);
    assert_eq!(ds.y, array![3.0, 7.0]);
    assert_eq!(ds.target_name, "target");
    // Chosen inputs, in the order given.
    let ds = Dataset::from_csv(&p, "x1", Some(&strings(&["x3", "target"]))).unwrap();
    assert_eq!(ds.x, array![[4.0, 3.0], [8.0, 7.0]]);
    assert_eq!(ds.y, array![1.0, 5.0]);
    // A UTF-8 byte-order mark, CRLF line endings and quoted fields are handled.
    let p = write(&dir, "bom.csv", "\u{feff}a,\"y\"\r\n1.5,\" 2 \"\r\n");
    let ds = Dataset::from_csv(&p, "y", None).unwrap();
    assert_eq!(ds.input_names, strings(&["a"]));
    assert_eq!((ds.x[[0, 0]], ds.y[0]), (1.5, 2.0));
}

#[test]
fn csv_errors_name_file_row_line_and_column() {
    let dir = test_dir("errors");
    let f = |name: &str, text: &str| write(&dir, name, text);

    // Unparsable number: data row 2 is line 3 of the file.
    let p = f("bad.csv", "a,b,y\n1,2,3\n4,abc,6\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(
        m.contains("bad.csv")
            && m.contains("data row 2 (line 3)")
            && m.contains("column \"b\"")
            && m.contains("\"abc\" is not a number"),
        "{m}"
    );

    // NaN and infinity.
    let p = f("nan.csv", "a,y\n1,2\nNaN,3\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(
        m.contains("data row 2 (line 3)") && m.contains("not finite"),
        "{m}"
    );
    let p = f("inf.csv", "a,y\n1,inf\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(
        m.contains("column \"y\"") && m.contains("not finite"),
        "{m}"
    );

    // Empty cell.
    let p = f("empty_cell.csv", "a,y\n1,\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(m.contains("empty value"), "{m}");

    // Ragged rows, too many and too few fields.
    let p = f("ragged.csv", "a,b,y\n1,2,3\n1,2,3\n1,2\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(
        m.contains("data row 3 (line 4)") && m.contains("2 fields") && m.contains("3 columns"),
        "{m}"
    );
    let p = f("ragged2.csv", "a,y\n1,2,3\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(
        m.contains("data row 1 (line 2)") && m.contains("3 fields"),
        "{m}"
    );

    // Missing target / input columns list the available ones.
    let p = f("ok.csv", "a,b,y\n1,2,3\n");
    let m = data_error(Dataset::from_csv(&p, "z", None));
    assert!(
        m.contains("no target column \"z\"") && m.contains("\"a\", \"b\", \"y\""),
        "{m}"
    );
    let m = data_error(Dataset::from_csv(&p, "y", Some(&strings(&["a", "q"]))));
    assert!(m.contains("no input column \"q\""), "{m}");

    // Target listed as an input; input listed twice.
    let e = Dataset::from_csv(&p, "y", Some(&strings(&["a", "y"]))).unwrap_err();
    assert!(e.to_string().contains("target"), "{e}");
    let e = Dataset::from_csv(&p, "y", Some(&strings(&["a", "a"]))).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");

    // Empty file, header only, blank file.
    let p = f("empty.csv", "");
    assert!(data_error(Dataset::from_csv(&p, "y", None)).contains("empty"));
    let p = f("header.csv", "a,b,y\n");
    assert!(data_error(Dataset::from_csv(&p, "y", None)).contains("no data rows"));

    // Duplicate column names are ambiguous.
    let p = f("dup.csv", "a,a,y\n1,2,3\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(m.contains("appears 2 times"), "{m}");

    // A numeric first line: the header is missing.
    let p = f("noheader.csv", "1,2,3\n4,5,6\n");
    let m = data_error(Dataset::from_csv(&p, "y", None));
    assert!(m.contains("needs a header row"), "{m}");

    // Only the target column: no inputs left.
    let p = f("only_y.csv", "y\n1\n");
    assert!(data_error(Dataset::from_csv(&p, "y", None)).contains("no input columns"));

    // Negative weight.
    let p = f("w.csv", "a,y,w\n1,2,1\n1,2,-1\n");
    let m = data_error(Dataset::from_csv_weighted(&p, "y", None, Some("w")));
    assert!(
        m.contains("data row 2 (line 3)") && m.contains("negative"),
        "{m}"
    );

    // Missing file: an I/O error naming it.
    let e = Dataset::from_csv(dir.join("missing.csv"), "y", None).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("missing.csv"),
        "{e}"
    );

    // Invalid UTF-8.
    let p = dir.join("latin1.csv");
    fs::write(&p, b"a,y\n1,\xe9\n").unwrap();
    assert!(Dataset::from_csv(&p, "y", None).is_err());
}

#[test]
fn read_inputs_matches_by_name_and_keeps_other_columns() {
    let dir = test_dir("inputs");
    let p = write(&dir, "new.csv", "id,x2,note,x1\nA,2.5,hello,1\nB,-1,,0.5\n");
    let t = read_inputs(&p, &strings(&["x1", "x2"])).unwrap();
    assert_eq!(t.x, array![[1.0, 2.5], [0.5, -1.0]]);
    assert_eq!(t.header, strings(&["id", "x2", "note", "x1"]));
    assert_eq!(t.rows[1], strings(&["B", "-1", "", "0.5"]));

    let out = dir.join("pred.csv");
    t.write_with_columns(&out, &[("prediction", array![0.25, 1e-7].view())])
        .unwrap();
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "id,x2,note,x1,prediction\nA,2.5,hello,1,0.25\nB,-1,,0.5,1e-7\n"
    );
    // Re-predicting onto that file replaces the column instead of duplicating it.
    let t2 = read_inputs(&out, &strings(&["x1", "x2"])).unwrap();
    t2.write_with_columns(&out, &[("prediction", array![3.0, 4.0].view())])
        .unwrap();
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "id,x2,note,x1,prediction\nA,2.5,hello,1,3\nB,-1,,0.5,4\n"
    );
    // Wrong length of an extra column.
    assert!(t
        .write_with_columns(&out, &[("p", array![1.0].view())])
        .is_err());

    // Missing input column; bad number in a used column; extra columns may be anything.
    let e = read_inputs(&p, &strings(&["x1", "x9"])).unwrap_err();
    assert!(
        e.to_string().contains("\"x9\"") && e.to_string().contains("\"note\""),
        "{e}"
    );
    let p = write(&dir, "bad.csv", "x1,x2\n1,2\n3,four\n");
    let e = read_inputs(&p, &strings(&["x1", "x2"])).unwrap_err();
    assert!(
        e.to_string().contains("data row 2 (line 3), column \"x2\""),
        "{e}"
    );
}

fn leftover_temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect()
}

#[test]
fn writes_are_atomic() {
    let dir = test_dir("atomic");
    let dest = write(&dir, "out.csv", "old content\n");
    // A row of the wrong length: error, old content intact, no temp file left.
    let e = write_csv(
        &dest,
        &strings(&["a", "b"]),
        &[strings(&["1", "2"]), strings(&["3"])],
    )
    .unwrap_err();
    assert!(e.to_string().contains("output row 1"), "{e}");
    assert_eq!(fs::read_to_string(&dest).unwrap(), "old content\n");
    // A writer failing half-way.
    let e = write_atomic(&dest, |w| {
        use std::io::Write;
        w.write_all(b"half").unwrap();
        Err(Error::data("test", "failure in the middle"))
    })
    .unwrap_err();
    assert!(e.to_string().contains("failure in the middle"));
    assert_eq!(fs::read_to_string(&dest).unwrap(), "old content\n");
    assert!(
        leftover_temp_files(&dir).is_empty(),
        "{:?}",
        leftover_temp_files(&dir)
    );
    // Non-existent directory: an I/O error naming the destination, nothing created.
    let missing = dir.join("no_such_dir").join("out.csv");
    let e = write_csv(&missing, &strings(&["a"]), &[]).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("out.csv"),
        "{e}"
    );
    // Success replaces the file; fields are quoted as needed.
    write_csv(&dest, &strings(&["a", "b"]), &[strings(&["1", "x,y"])]).unwrap();
    assert_eq!(fs::read_to_string(&dest).unwrap(), "a,b\n1,\"x,y\"\n");
    write_matrix_csv(
        &dest,
        &strings(&["u", "v"]),
        array![[1.5, -2.0], [1e300, 0.0]].view(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&dest).unwrap(), "u,v\n1.5,-2\n1e300,0\n");
    assert!(write_matrix_csv(&dest, &strings(&["u"]), array![[1.0, 2.0]].view()).is_err());
    assert!(leftover_temp_files(&dir).is_empty());
}

#[test]
fn splits_are_seeded_disjoint_and_complete() {
    let n = 103;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| (i * 2 + j) as f64);
    let y = Array1::from_shape_fn(n, |i| i as f64);
    let ds = Dataset::from_arrays(x, y).unwrap();

    let (tr, va) = ds.split(SplitSize::Fraction(0.2), 7).unwrap();
    assert_eq!((tr.n_samples(), va.n_samples()), (82, 21));
    let (tr2, va2) = ds.split(SplitSize::Fraction(0.2), 7).unwrap();
    assert_eq!((tr.clone(), va.clone()), (tr2, va2));
    let (_, va3) = ds.split(SplitSize::Fraction(0.2), 8).unwrap();
    assert_ne!(va.y, va3.y, "another seed gives another split");
    // Rows keep their original order and partition 0..n (y_i = i identifies the row).
    let mut all: Vec<usize> =
        tr.y.iter()
            .chain(va.y.iter())
            .map(|&v| v as usize)
            .collect();
    assert!(tr.y.windows(2).into_iter().all(|w| w[0] < w[1]));
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
    // Inputs follow their rows.
    for (row, &yi) in va.x.outer_iter().zip(va.y.iter()) {
        assert_eq!(row[0], 2.0 * yi);
    }

    let (tr, va, te) = ds
        .split3(SplitSize::Count(10), SplitSize::Fraction(0.1), 1)
        .unwrap();
    assert_eq!(
        (tr.n_samples(), va.n_samples(), te.n_samples()),
        (83, 10, 10)
    );
    let parts = split_indices(
        n,
        &[
            (SplitSize::Count(10), "validation"),
            (SplitSize::Fraction(0.1), "test"),
        ],
        1,
    )
    .unwrap();
    assert_eq!(
        parts[1].iter().map(|&i| i as f64).collect::<Vec<_>>(),
        va.y.to_vec()
    );

    // Too few rows, bad fractions and counts.
    let small = ds.subset(&[0, 1]).unwrap();
    let e = small
        .split3(SplitSize::Count(1), SplitSize::Count(1), 0)
        .unwrap_err();
    assert!(e.to_string().contains("too few rows"), "{e}");
    assert!(ds.split(SplitSize::Fraction(1.0), 0).is_err());
    assert!(ds.split(SplitSize::Fraction(0.0), 0).is_err());
    assert!(ds.split(SplitSize::Count(0), 0).is_err());
    assert!(ds.split(SplitSize::Count(103), 0).is_err());
    assert!(ds.subset(&[200]).is_err());

    assert_eq!(SplitSize::parse("0.25").unwrap(), SplitSize::Fraction(0.25));
    assert_eq!(SplitSize::parse(" 200 ").unwrap(), SplitSize::Count(200));
    assert!(SplitSize::parse("1.5").is_err());
    assert!(SplitSize::parse("abc").is_err());
}

#[test]
fn domain_inference() {
    let x = array![[0.0, 5.0, -1.0], [10.0, 5.0, 1.0], [4.0, 5.0, 0.0]];
    let dom = infer_domain(x.view(), DEFAULT_DOMAIN_MARGIN).unwrap();
    assert_eq!(dom.bounds[0], (-0.1, 10.1));
    assert_eq!(dom.bounds[1], (4.5, 5.5));
    assert!((dom.bounds[2].0 + 1.02).abs() < 1e-15 && (dom.bounds[2].1 - 1.02).abs() < 1e-15);
    assert_eq!(dom.constant, vec![1]);
    assert_eq!(dom.maps()[1], InputMap::Interval { lo: 4.5, hi: 5.5 });
    // Every training point lies strictly inside.
    for row in x.outer_iter() {
        for (v, (lo, hi)) in row.iter().zip(&dom.bounds) {
            assert!(lo < v && v < hi);
        }
    }
    assert!(infer_domain(x.view(), -0.1).is_err());
    assert!(infer_domain(Array2::zeros((0, 2)).view(), 0.01).is_err());
    assert!(infer_domain(array![[f64::NAN]].view(), 0.01).is_err());

    let (maps, constant) = infer_standardization(x.view()).unwrap();
    assert_eq!(constant, vec![1]);
    assert_eq!(
        maps[1],
        InputMap::Standardize {
            mean: 5.0,
            std: 1.0
        }
    );
    match maps[2] {
        InputMap::Standardize { mean, std } => {
            assert!(mean.abs() < 1e-15 && (std - (2.0f64 / 3.0).sqrt()).abs() < 1e-15)
        }
        _ => panic!(),
    }
    let ds = Dataset::from_arrays(x, array![1.0, 2.0, 3.0]).unwrap();
    assert_eq!(ds.infer_domain(0.0).unwrap().bounds[0], (0.0, 10.0));
}
