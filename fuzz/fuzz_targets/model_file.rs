//! The model-file reader on arbitrary bytes. A file that loads must predict without panicking
//! at a point inside and a point outside its domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttfit::basis::OutsidePolicy;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.json");
    if let Ok((model, _info)) = ttfit::model_file::parse(data, path) {
        let d = model.input_names().len();
        // keep evaluation cheap: the fuzzer may declare big (but consistent) cores
        if model.tt().num_params() <= 1 << 16 {
            for v in [0.5, 1e3] {
                let x = ndarray::Array2::from_elem((1, d), v);
                let _ = model.predict(x.view(), OutsidePolicy::Extrapolate);
                let _ = model.predict(x.view(), OutsidePolicy::Clamp);
                let _ = model.predict(x.view(), OutsidePolicy::Error);
            }
        }
    }
});
