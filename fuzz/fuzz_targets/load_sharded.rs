//! `checkpoint::load_sharded` on an arbitrary index next to one valid shard (`model.safetensors`,
//! keys `w` and `b`): an error or a state dict, never a panic.
#![no_main]

mod scratch;

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static SHARD: Once = Once::new();

fuzz_target!(|index: &[u8]| {
    SHARD.call_once(|| {
        let mut sd = modcore::StateDict::new();
        for key in ["w", "b"] {
            let t = candle_core::Tensor::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu)
                .expect("a tensor");
            sd.insert(key, t);
        }
        let dir = scratch::write("model.safetensors.index.json", b"{}");
        let shard = dir.with_file_name("model.safetensors");
        modcore::checkpoint::save_file(&sd, shard).expect("the shard");
    });
    let path = scratch::write("model.safetensors.index.json", index);
    let _ = modcore::checkpoint::load_sharded::<candle_core::Tensor>(&path);
});
