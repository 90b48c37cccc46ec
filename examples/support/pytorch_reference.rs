//! What the model examples share: the check against PyTorch's fixture
//! (`tests/fixtures/make_models.py`).

use std::path::Path;

use candle_core::Tensor;
use modcore::{checkpoint, ForwardResult, Module, StateDict};

/// A model's fixture: PyTorch's weights, input, output and print of it.
pub struct Reference {
    /// `<name>.safetensors`: `model.*`, `input`, `output` and any extra inputs.
    pub tensors: StateDict<Tensor>,
    printed: String,
}

impl Reference {
    /// `tests/fixtures/models/<name>.*`.
    pub fn load(name: &str) -> ForwardResult<Reference> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
        Ok(Reference {
            tensors: checkpoint::load_file(dir.join(format!("{name}.safetensors")))?,
            printed: std::fs::read_to_string(dir.join(format!("{name}.repr.txt")))?,
        })
    }

    /// The tensor `key` of the fixture.
    pub fn get(&self, key: &str) -> ForwardResult<Tensor> {
        Ok(self.tensors.get(key).ok_or(format!("no {key}"))?.clone())
    }

    /// Prints and checks what makes the port PyTorch's: the printed tree, a strict load of
    /// PyTorch's weights, and (in eval mode) `run`'s output within 1e-4 of PyTorch's.
    pub fn check<M: Module<Tensor>>(
        &self,
        model: &mut M,
        run: impl FnOnce(&M) -> ForwardResult<Tensor>,
    ) -> ForwardResult<f32> {
        let same_tree = model.repr() == self.printed.trim_end();
        println!("print(model) identical to PyTorch's: {same_tree}");
        let weights: StateDict<Tensor> = self
            .tensors
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("model.")?.to_owned(), v.clone())))
            .collect();
        let keys = model.load_state_dict(&weights, true, false)?;
        println!("strict load of PyTorch's state dict: {keys}");
        model.eval();
        let output = run(model)?;
        let diff = (&output - self.get("output")?)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        println!(
            "output {:?}; max abs difference from PyTorch's: {diff:e} (within 1e-4: {})",
            output.dims(),
            diff <= 1e-4
        );
        if !same_tree {
            return Err(
                format!("the printed tree differs from PyTorch's:\n{}", model.repr()).into(),
            );
        }
        if diff > 1e-4 {
            return Err("the output differs from PyTorch's".into());
        }
        Ok(diff)
    }
}
