use modcore::{Buffer, DType, Module, ModuleCore, StateDict, Tensor};

#[derive(Module)]
#[module(version = 2, migrate = Stats::migrate)]
struct Stats<X: Tensor> {
    core: ModuleCore,
    count: Buffer<X>,
}

impl<X: Tensor> Stats<X> {
    fn migrate<T: Tensor>(&self, sd: &mut StateDict<T>, prefix: &str, version: Option<u32>) {
        let key = format!("{prefix}count");
        if version.is_none_or(|v| v < 2) && !sd.contains_key(&key) {
            if let Ok(zero) = T::from_bytes(DType::I64, &[], &0i64.to_le_bytes()) {
                sd.insert(key, zero);
            }
        }
    }
}

fn main() {
    let _ = Stats::<ndarray::ArcArray<i64, ndarray::IxDyn>>::MEMBERS;
}
