//! `checkpoint::load_file` on arbitrary bytes: an error or a state dict, never a panic.
#![no_main]

mod scratch;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = scratch::write("input.safetensors", bytes);
    let _ = modcore::checkpoint::load_file::<candle_core::Tensor>(&path);
});
