//! [`Forward`]: a module's computation, which [`call`](crate::ModuleHooks::call) wraps in hooks.
//!
//! PyTorch's `forward(*args, **kwargs)` becomes a typed signature: `Args` is what the module is
//! called with (a tensor, a tuple of tensors, a struct), and keyword arguments, where a module
//! takes any, are a struct of its own passed as `Kwargs` ([`ForwardKw`]). A module may implement
//! `Forward` for several argument types; each hook is registered for one of them, checked by the
//! compiler, and runs on calls with that signature.

use crate::{Module, Tensor};

/// The error a forward pass (or the call path around it) fails with: any error, boxed, so that
/// `?` works on the backend's errors.
pub type ForwardError = Box<dyn std::error::Error + Send + Sync>;

/// The result of a forward pass.
pub type ForwardResult<O> = Result<O, ForwardError>;

/// The forward pass of a module called with `Args`.
///
/// ```
/// # #[cfg(feature = "candle")] {
/// use candle_core::{Device, Tensor};
/// use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks, Parameter};
///
/// #[derive(Module)]
/// struct Scale {
///     core: ModuleCore,
///     factor: Parameter<Tensor>,
/// }
///
/// impl Forward<Tensor, Tensor> for Scale {
///     type Output = Tensor;
///     fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
///         Ok(x.broadcast_mul(&self.factor.tensor())?)
///     }
/// }
///
/// let m = Scale { core: ModuleCore::new(), factor: Parameter::new(Tensor::new(2f32, &Device::Cpu)?) };
/// let y = m.call(Tensor::new(&[1f32, 2.0], &Device::Cpu)?)?;
/// assert_eq!(y.to_vec1::<f32>()?, [2.0, 4.0]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait Forward<T: Tensor, Args>: Module<T> {
    /// What the forward pass returns.
    type Output;

    /// The computation. Calling it directly runs no hooks; [`call`](crate::ModuleHooks::call)
    /// runs them around it.
    fn forward(&self, args: Args) -> ForwardResult<Self::Output>;
}

/// The forward pass of a module that takes keyword arguments: `Kwargs` is a type of the
/// module's own (a struct with the options). Every [`Forward`] module is a `ForwardKw` with
/// `Kwargs = ()`.
pub trait ForwardKw<T: Tensor, Args, Kwargs>: Module<T> {
    /// What the forward pass returns.
    type Output;

    /// The computation with keyword arguments.
    fn forward_kw(&self, args: Args, kwargs: Kwargs) -> ForwardResult<Self::Output>;
}

impl<T: Tensor, A, M: Forward<T, A> + ?Sized> ForwardKw<T, A, ()> for M {
    type Output = M::Output;

    #[inline]
    fn forward_kw(&self, args: A, _: ()) -> ForwardResult<M::Output> {
        self.forward(args)
    }
}

/// A hook's replacement value was not of the type the call needs (only possible for the
/// type-erased hooks: global hooks and `*_any` hooks).
#[derive(Debug, thiserror::Error)]
#[error("{hook} {id} returned a value that is not a `{}`", crate::error::short_type_name(.expected))]
pub struct HookTypeError {
    /// `forward pre-hook` or `forward hook`.
    pub hook: &'static str,
    /// The hook's id.
    pub id: u64,
    /// The type the call needed.
    pub expected: &'static str,
}
