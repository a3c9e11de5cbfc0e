//! The linter on arbitrary text: hadolint's rules, the pragmas, the shell reader and
//! BuildKit's build checks must not panic on anything the parser accepts (and must turn
//! what it rejects into a DL1000 finding or an error).

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_lint::buildcheck::{check, CheckOptions};
use strata_lint::{lint, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let findings = lint(text, "Dockerfile", &Config::default());
    for f in &findings {
        assert!(f.line >= 1, "finding without a line: {f:?}");
    }
    let _ = check(text, &CheckOptions::default());
});
