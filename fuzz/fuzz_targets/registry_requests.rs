#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_registry::fuzzing::request_handlers(data));
