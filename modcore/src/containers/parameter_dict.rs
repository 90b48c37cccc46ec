//! [`ParameterDict`]: PyTorch's `nn.ParameterDict`.

use std::marker::PhantomData;

use crate::{AttributeError, Error, Module, ModuleCore, Parameter, Tensor};

/// Parameters by name, in insertion order: PyTorch's `nn.ParameterDict`. A missing key is
/// PyTorch's `AttributeError` (`'ParameterDict' object has no attribute 'zz'`), since PyTorch
/// looks keys up as attributes.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::containers::ParameterDict;
/// use modcore::{Module, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// let mut pd = ParameterDict::<T>::new();
/// pd.insert("scale", Parameter::new(T::zeros(ndarray::IxDyn(&[1])))).unwrap();
/// assert_eq!(pd.keys(), ["scale"]);
/// assert_eq!(pd.get("zz").unwrap_err().to_string(), "'ParameterDict' object has no attribute 'zz'");
/// assert_eq!(pd.get("scal").unwrap_err().to_string(), "'ParameterDict' object has no attribute 'scal'. Did you mean: 'scale'?");
/// # }
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = T, extra_repr = ParameterDict::describe)]
pub struct ParameterDict<T: Tensor> {
    core: ModuleCore,
    #[module(skip)]
    _tensor: PhantomData<fn() -> T>,
}

super::empty_container!(ParameterDict, "An empty dict.");

impl<T: Tensor> ParameterDict<T> {
    /// Adds or replaces `key`; keys are validated as `register_parameter` names, and may not be
    /// one of the dict's own methods (`update`, `keys`, …), as in PyTorch.
    pub fn insert(&mut self, key: &str, parameter: Parameter<T>) -> Result<(), Error> {
        super::check_key(super::PARAMETER_DICT_METHODS, key)?;
        self.register_parameter(key, Some(parameter))
    }

    /// The parameter under `key`.
    pub fn get(&self, key: &str) -> Result<&Parameter<T>, AttributeError> {
        match self.get_attr(key)? {
            crate::Attr::Parameter(Some(p)) => Ok(p),
            _ => Err(AttributeError::new(self.type_name(), key, self.keys())),
        }
    }

    /// Removes `key` and returns its parameter (PyTorch's `pop`).
    pub fn remove(&mut self, key: &str) -> Result<Parameter<T>, Error> {
        let parameter = self.get(key)?.clone();
        self.del_attr(key)?;
        Ok(parameter)
    }

    /// The keys in order.
    pub fn keys(&self) -> Vec<String> {
        self.core
            .registry::<T>()
            .map(|r| r.parameters.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.core.registry::<T>().map_or(0, |r| r.parameters.len())
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// PyTorch's `ParameterDict.extra_repr`: one `  (key): Parameter containing: [...]` line each,
    /// naming the dtype by its legacy tensor type (`torch.FloatTensor`), as PyTorch's does.
    fn describe(&self) -> String {
        let lines: Vec<String> = self
            .core
            .registry::<T>()
            .into_iter()
            .flat_map(|r| r.parameters.iter())
            .filter_map(|(k, p)| {
                let line = p
                    .as_ref()?
                    .read(|t| crate::module::repr::tensor_line("Parameter", t, true));
                Some(format!("  ({k}): {line}"))
            })
            .collect();
        lines.join("\n")
    }
}
