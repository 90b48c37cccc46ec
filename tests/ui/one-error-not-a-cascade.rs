use modcore::{Module, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

// The derive fails, but the stub impl it leaves behind keeps every use below compiling:
// the user sees the one error that matters.
#[derive(Module)]
#[module(tensor = T)]
struct Net {
    weight: Parameter<T>,
}

fn count(m: &dyn Module<T>) -> usize {
    m.named_parameters().len()
}

fn main() {
    let net = Net { weight: Parameter::new(T::zeros(ndarray::IxDyn(&[1]))) };
    let _ = count(&net);
    let _ = Net::MEMBERS;
}
