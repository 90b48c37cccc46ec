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
    // The module is called with f64, not f32: the hook is refused at compile time.
    let _h = m.register_forward_hook(|_, x: &f32, y: &f64| Some(y + *x as f64), HookOptions::default());
}
