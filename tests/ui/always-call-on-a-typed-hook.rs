use candle_core::Tensor;
use modcore::{Forward, ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks};

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct AddOne {
    core: ModuleCore,
}

impl Forward<Tensor, f64> for AddOne {
    type Output = f64;
    fn forward(&self, x: f64) -> ForwardResult<f64> {
        Ok(x + 1.0)
    }
}

fn main() {
    let m = AddOne::default();
    // A typed hook sees `&f64`, which a failed call does not have: `always_call` is refused
    // here (`register_forward_hook_always_call` takes an `Option<&f64>`).
    let _h = m.register_forward_hook(|_, _: &f64, _: &f64| None, HookOptions::default().always_call());
}
