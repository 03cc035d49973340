#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookrelay_shared::fuzzing::verify_static(data));
