//! The fit-configuration parser on arbitrary text: parse, merge onto the defaults (with and
//! without an --optimizer option) and validate against 1..4 inputs. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttfit::config::ConfigFile;
use ttfit::fit::FitConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = ConfigFile::parse(text) {
        for opt in [None, Some("als"), Some("ngd-hb")] {
            if let Ok((cfg, _)) = file.apply(&FitConfig::default(), opt) {
                for d in 1..=4 {
                    if let Ok(bases) = cfg.check(d) {
                        let sizes: Vec<usize> = bases.iter().map(|b| b.dim()).collect();
                        let _ = cfg.ranks(&sizes);
                    }
                }
            }
        }
    }
});
