#![no_main]

// The body is xir_testkit::fuzzing::settings, shared with the regression test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| xir_testkit::fuzzing::settings(data));
