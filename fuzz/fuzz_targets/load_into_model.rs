//! Arbitrary bytes loaded as a checkpoint into a model: whenever the load fails, the model is
//! exactly as it was.
#![no_main]

mod scratch;

use candle_core::Tensor;
use libfuzzer_sys::fuzz_target;
use modcore::nn::{BatchNorm1d, Linear};
use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    fc: Linear,
    norm: BatchNorm1d,
}

fn snapshot(m: &Net) -> Vec<(String, Vec<u8>)> {
    m.state_dict()
        .into_iter()
        .map(|(k, t)| (k, modcore::Tensor::to_bytes(&t).expect("bytes")))
        .collect()
}

fuzz_target!(|bytes: &[u8]| {
    let mut net = Net {
        core: ModuleCore::new(),
        fc: Linear::new(3, 2, true).expect("a layer"),
        norm: BatchNorm1d::new(2).expect("a layer"),
    };
    let before = snapshot(&net);
    let path = scratch::write("input.safetensors", bytes);
    let loaded = modcore::checkpoint::load_file::<Tensor>(&path)
        .map_err(|e| e.to_string())
        .and_then(|sd| net.load_state_dict(&sd, true, false).map_err(|e| e.to_string()));
    if loaded.is_err() {
        assert!(snapshot(&net) == before, "a failed load changed the model");
    }
});
