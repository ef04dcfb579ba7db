//! libFuzzer entry point of [`coscls_fuzz::emulator_request`]; without `--cfg fuzzing`
//! (a stable build) this is an empty program.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| coscls_fuzz::emulator_request(data));

#[cfg(not(fuzzing))]
fn main() {}
