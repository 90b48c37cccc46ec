//! [`ParameterList`]: PyTorch's `nn.ParameterList`.

use std::marker::PhantomData;

use compact_str::ToCompactString;

use super::{position, registry};
use crate::hooks::global::run_parameter_hooks;
use crate::{Error, ModuleCore, Parameter, Tensor};

/// Parameters named `"0"`, `"1"`, …: PyTorch's `nn.ParameterList`. Tensors pushed become
/// parameters. (PyTorch also stores plain objects in a `ParameterList`; modcore keeps
/// parameters only.)
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::containers::ParameterList;
/// use modcore::Module;
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// let mut pl = ParameterList::<T>::new();
/// pl.push_tensor(T::zeros(ndarray::IxDyn(&[2, 3]))).push_tensor(T::zeros(ndarray::IxDyn(&[4])));
/// assert_eq!(pl.len(), 2);
/// assert_eq!(pl.get(-1).unwrap().shape(), vec![4]);
/// assert_eq!(pl.repr(), "ParameterList(\n    (0): Parameter containing: [torch.float32 of size 2x3]\n    (1): Parameter containing: [torch.float32 of size 4]\n)");
/// # }
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = T, extra_repr = ParameterList::describe)]
pub struct ParameterList<T: Tensor> {
    core: ModuleCore,
    #[module(skip)]
    _tensor: PhantomData<fn() -> T>,
}

super::empty_container!(ParameterList, "An empty list.");

impl<T: Tensor> ParameterList<T> {
    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.core.registry::<T>().map_or(0, |r| r.parameters.len())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a parameter (registration hooks included); returns the list.
    pub fn push(&mut self, parameter: Parameter<T>) -> &mut Self {
        let name = self.len().to_compact_string();
        let parameter = run_parameter_hooks(&*self, &name, parameter);
        registry::<T>(&mut self.core)
            .parameters
            .insert(name, Some(parameter));
        self
    }

    /// Appends a tensor as a new parameter (PyTorch converts tensors on `append`).
    pub fn push_tensor(&mut self, tensor: T) -> &mut Self {
        self.push(Parameter::new(tensor))
    }

    /// The parameter at `index` (negative counts from the end).
    pub fn get(&self, index: isize) -> Result<&Parameter<T>, Error> {
        let at = position(index, self.len())?;
        self.core
            .registry::<T>()
            .and_then(|r| r.parameters.get_index(at))
            .and_then(|(_, p)| p.as_ref())
            .ok_or(Error::IndexOutOfRange { index })
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Parameter<T>> {
        self.core
            .registry::<T>()
            .into_iter()
            .flat_map(|r| r.parameters.values())
            .filter_map(Option::as_ref)
    }

    /// PyTorch's `ParameterList.extra_repr`: one `  (i): Parameter containing: [...]` line each.
    fn describe(&self) -> String {
        let lines: Vec<String> = self
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  ({i}): {}", crate::module::repr::parameter_line(p)))
            .collect();
        lines.join("\n")
    }
}
