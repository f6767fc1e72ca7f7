//! The CSV reader on arbitrary bytes: a training table (target `y`, every other column an
//! input, optional weight column `w`) and a prediction table (inputs `x1`, `x2`). Any input
//! must give `Ok` or a `ttfit::Error`, never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttfit::data::{read_inputs_from, Dataset};

fuzz_target!(|data: &[u8]| {
    let _ = Dataset::from_csv_reader(data, "fuzz.csv", "y", None, None);
    let _ = Dataset::from_csv_reader(data, "fuzz.csv", "y", None, Some("w"));
    let names = ["x1".to_string(), "x2".to_string()];
    let _ = Dataset::from_csv_reader(data, "fuzz.csv", "y", Some(&names), None);
    if let Ok(t) = read_inputs_from(data, "fuzz.csv", &names) {
        assert_eq!(t.x.ncols(), 2);
        assert_eq!(t.x.nrows(), t.rows.len());
    }
});
