//! Whole-model conversion: PyTorch's `_apply(fn)` and the family built on it (`to(dtype)`,
//! `half`, `bfloat16`, `float`, `double`, and, on candle, `to(device)`).
//!
//! As in PyTorch, children are converted before their parent, and a parameter keeps its identity:
//! every handle (tied ones included) sees the converted tensor, and its gradient is converted
//! too. A parameter that requires grad is a leaf variable afterwards, with no graph edge to its
//! old tensor. Buffers get the converted tensor.
//!
//! Unlike PyTorch, a conversion is atomic: every new tensor is made first, and the model changes
//! only if all of them could be; a failure names the entry that failed.

use crate::module::traversal::AddressSet;
use crate::{Attr, Buffer, DType, MemberKind, Module, Parameter, Tensor, TensorError};

/// A conversion that failed: the dotted key of the entry and the backend's error. The model is
/// unchanged.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{DType, Module, ModuleCore, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Net { core: ModuleCore, w: Parameter<T> }
///
/// let mut net = Net { core: ModuleCore::new(), w: Parameter::new(T::zeros(ndarray::IxDyn(&[2]))) };
/// // An ndarray array holds one element type, so it cannot become float16.
/// let error = net.half().unwrap_err();
/// assert_eq!(error.key(), "w");
/// assert_eq!(net.w.dtype(), DType::F32);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert `{key}`: {source}")]
pub struct ApplyError {
    key: String,
    source: TensorError,
}

impl ApplyError {
    /// The state-dict key of the entry that could not be converted (`fc.weight`, or
    /// `fc.weight.grad` for its gradient).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// What a conversion writes, once every new tensor exists.
enum Write<'a, T> {
    Parameter {
        parameter: &'a Parameter<T>,
        tensor: Option<T>,
        grad: Option<T>,
    },
    Buffer(&'a Buffer<T>, T),
}

/// PyTorch's `_apply(fn)`: `f` applied to every parameter (detached, as under `no_grad`), every
/// parameter's gradient and every buffer; children first, shared tensors once.
pub(crate) fn apply<T: Tensor>(
    module: &dyn Module<T>,
    f: &mut dyn FnMut(&T) -> Result<T, TensorError>,
) -> Result<(), ApplyError> {
    let mut writes = Vec::new();
    plan(
        module,
        &mut String::new(),
        &mut AddressSet::default(),
        f,
        &mut writes,
    )?;
    for write in writes {
        match write {
            Write::Parameter {
                parameter,
                tensor,
                grad,
            } => {
                if let Some(tensor) = tensor {
                    // Already a leaf if the parameter requires grad: nothing can fail here.
                    parameter.replace(tensor);
                }
                if grad.is_some() {
                    parameter.set_grad(grad);
                }
            }
            Write::Buffer(buffer, tensor) => buffer.set_tensor(tensor),
        }
    }
    Ok(())
}

/// The conversions of `module`'s subtree, children first, into `writes`.
fn plan<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    path: &mut String,
    seen: &mut AddressSet,
    f: &mut dyn FnMut(&T) -> Result<T, TensorError>,
    writes: &mut Vec<Write<'a, T>>,
) -> Result<(), ApplyError> {
    let mut result = Ok(());
    module.visit_members(MemberKind::Module, path, &mut |path, child| {
        if let (Ok(()), Attr::Module(Some(child))) = (&result, child) {
            result = plan(child, path, seen, f, writes);
        }
    });
    result?;
    let mut result = Ok(());
    module.visit_members(MemberKind::Parameter, path, &mut |key, entry| {
        if let (Ok(()), Attr::Parameter(Some(parameter))) = (&result, entry) {
            if seen.insert(parameter.handle().key()) {
                result = convert_parameter(parameter, key, f).map(|w| writes.push(w));
            }
        }
    });
    result?;
    let mut result = Ok(());
    module.visit_members(MemberKind::Buffer, path, &mut |key, entry| {
        if let (Ok(()), Attr::Buffer(Some(buffer))) = (&result, entry) {
            if seen.insert(buffer.handle().key()) {
                let current = buffer.tensor();
                result = match f(&current) {
                    Ok(new) if new.id() == current.id() => Ok(()),
                    Ok(new) => {
                        writes.push(Write::Buffer(buffer, new));
                        Ok(())
                    }
                    Err(source) => Err(failed(key, "", source)),
                };
            }
        }
    });
    result
}

/// A parameter's new tensor (a leaf if it requires grad; `None` if `f` left it as it was) and
/// its new gradient.
fn convert_parameter<'a, T: Tensor>(
    parameter: &'a Parameter<T>,
    key: &str,
    f: &mut dyn FnMut(&T) -> Result<T, TensorError>,
) -> Result<Write<'a, T>, ApplyError> {
    let current = parameter.detached();
    let new = f(&current).map_err(|e| failed(key, "", e))?;
    let tensor = if new.id() == current.id() {
        None
    } else if parameter.requires_grad() {
        Some(new.to_variable().map_err(|e| failed(key, "", e))?)
    } else {
        Some(new)
    };
    let grad = match parameter.grad() {
        Some(grad) => Some(f(&grad.detach()).map_err(|e| failed(key, ".grad", e))?),
        None => None,
    };
    Ok(Write::Parameter {
        parameter,
        tensor,
        grad,
    })
}

fn failed(key: &str, suffix: &str, source: TensorError) -> ApplyError {
    ApplyError {
        key: format!("{key}{suffix}"),
        source,
    }
}

/// PyTorch's `to(dtype)`: floating-point tensors become `dtype`; integer and bool tensors (a
/// BatchNorm's `num_batches_tracked`) keep theirs.
pub(crate) fn to_dtype<T: Tensor>(module: &dyn Module<T>, dtype: DType) -> Result<(), ApplyError> {
    apply(module, &mut |t| {
        if t.dtype().is_floating_point() {
            t.to_dtype(dtype)
        } else {
            Ok(t.clone())
        }
    })
}
