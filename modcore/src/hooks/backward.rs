//! Full backward hooks on the candle backend: PyTorch's `register_full_backward_pre_hook` and
//! `register_full_backward_hook`, built on candle's autograd.
//!
//! When a module with backward hooks (its own or global) is called through
//! [`call`](crate::ModuleHooks::call) with a tensor argument and a tensor output, the argument
//! and the output are passed through identity operations whose backward pass runs the hooks, as
//! PyTorch's `BackwardHookFunction` does: when the gradient with respect to the output is ready
//! the pre-hooks run and may replace it; when the gradient with respect to the input is ready the
//! full hooks run with `(grad_input, grad_output)` and may replace `grad_input`. Order: global
//! pre-hooks, local pre-hooks, global full hooks, local full hooks. If the input does not require
//! a gradient, the full hooks run at output-gradient time with `grad_input = [None]` and must not
//! replace it.
//!
//! Differences from PyTorch: the hooks do not receive the module (the autograd graph outlives the
//! call that built it, and a module cannot be borrowed for that long); only calls with a single
//! tensor argument and a single tensor output are wrapped; the deprecated non-full
//! `register_backward_hook` is not offered, so the "regular and full hooks" conflict can only
//! arise from the recorded tri-state.

use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::hooks::storage::HookEntry;

/// Gradients as PyTorch's backward hooks see them: one entry per tensor, `None` where there is
/// no gradient.
pub type Grads = Vec<Option<Tensor>>;

/// A full backward pre-hook: `hook(grad_output)`; `Some` replaces `grad_output` (same length).
/// Every closure of this signature implements it.
pub trait FullBackwardPreHook:
    Fn(&[Option<Tensor>]) -> Option<Grads> + Send + Sync + 'static
{
}

impl<F> FullBackwardPreHook for F where
    F: Fn(&[Option<Tensor>]) -> Option<Grads> + Send + Sync + 'static
{
}

/// A full backward hook: `hook(grad_input, grad_output)`; `Some` replaces `grad_input` (same
/// length). Every closure of this signature implements it.
pub trait FullBackwardHook:
    Fn(&[Option<Tensor>], &[Option<Tensor>]) -> Option<Grads> + Send + Sync + 'static
{
}

impl<F> FullBackwardHook for F where
    F: Fn(&[Option<Tensor>], &[Option<Tensor>]) -> Option<Grads> + Send + Sync + 'static
{
}

/// A stored full backward pre-hook.
pub(crate) type BackwardPreHook = Box<dyn FullBackwardPreHook>;
/// A stored full backward hook.
pub(crate) type BackwardHook = Box<dyn FullBackwardHook>;

/// The hooks of one call, and the gradient with respect to its output once known.
struct State {
    pre: Vec<HookEntry>,
    full: Vec<HookEntry>,
    input_requires_grad: bool,
    grad_output: Mutex<Option<Grads>>,
}

fn msg(text: String) -> candle_core::Error {
    candle_core::Error::Msg(text)
}

/// PyTorch's error when a hook returns another number of gradients than it was given.
fn check_count(
    hook: &str,
    grads: &str,
    new: &[Option<Tensor>],
    given: &[Option<Tensor>],
) -> candle_core::Result<()> {
    if new.len() == given.len() {
        return Ok(());
    }
    Err(msg(format!(
        "{hook} returned an invalid number of {grads}, got {}, but expected {}",
        new.len(),
        given.len()
    )))
}

impl State {
    fn run_pre(&self, grad_output: Grads) -> candle_core::Result<Grads> {
        let mut grad_output = grad_output;
        for entry in &self.pre {
            if let Some(hook) = entry.hook_as::<BackwardPreHook>() {
                if let Some(new) = hook(&grad_output) {
                    check_count("Backward pre hook", "grad_output", &new, &grad_output)?;
                    grad_output = new;
                }
            }
        }
        Ok(grad_output)
    }

    fn run_full(
        &self,
        grad_input: Grads,
        grad_output: &[Option<Tensor>],
    ) -> candle_core::Result<Grads> {
        let mut grad_input = grad_input;
        for entry in &self.full {
            if let Some(hook) = entry.hook_as::<BackwardHook>() {
                if let Some(new) = hook(&grad_input, grad_output) {
                    if !self.input_requires_grad && new.iter().any(Option::is_some) {
                        return Err(msg("Backward hook for Modules where no input requires gradient should always return None or None for all gradients.".to_owned()));
                    }
                    check_count("Backward hook", "grad_input", &new, &grad_input)?;
                    grad_input = new;
                }
            }
        }
        Ok(grad_input)
    }
}

/// An identity op on one side of a module call, whose backward runs that side's hooks.
struct HookOp {
    state: Arc<State>,
    side: Side,
}

enum Side {
    /// On the module's output: the gradient with respect to the output runs the pre-hooks.
    Output,
    /// On the module's input: the gradient with respect to the input runs the full hooks.
    Input,
}

/// The element offsets a layout visits, in row-major order.
fn offsets(layout: &Layout) -> Vec<usize> {
    let dims = layout.dims();
    let stride = layout.stride();
    let count: usize = dims.iter().product();
    let mut index = vec![0; dims.len()];
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(
            layout.start_offset() + index.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>(),
        );
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            if index[d] < dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// A contiguous copy of the tensor's data: the identity, as a new autograd node.
fn identity(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
    let at = offsets(layout);
    macro_rules! copy {
        ($($variant:ident),*) => {
            match storage {
                $(CpuStorage::$variant(data) => CpuStorage::$variant(at.iter().map(|&i| data[i]).collect()),)*
                _ => return Err(msg("backward hooks need a floating-point tensor".to_owned())),
            }
        };
    }
    Ok((copy!(F32, F64, F16, BF16), layout.shape().clone()))
}

impl State {
    /// The gradient with respect to the module's output is ready: the pre-hooks run (and, when
    /// the input does not require a gradient, the full hooks with `grad_input = [None]`).
    fn output_backward(&self, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let grad_output = self.run_pre(vec![Some(grad.clone())])?;
        if !self.input_requires_grad {
            self.run_full(vec![None], &grad_output)?;
        }
        let out = grad_output.first().cloned().flatten();
        *self
            .grad_output
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(grad_output);
        Ok(out)
    }

    /// The gradient with respect to the module's input is ready: the full hooks run with the
    /// `grad_output` the pre-hooks left.
    fn input_backward(&self, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let grad_output = self
            .grad_output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        let grad_input = self.run_full(vec![Some(grad.clone())], &grad_output)?;
        Ok(grad_input.into_iter().next().flatten())
    }
}

impl CustomOp1 for HookOp {
    fn name(&self) -> &'static str {
        match self.side {
            Side::Output => "backward-hook-output",
            Side::Input => "backward-hook-input",
        }
    }
    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        identity(storage, layout)
    }
    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        match self.side {
            Side::Output => self.state.output_backward(grad),
            Side::Input => self.state.input_backward(grad),
        }
    }
}

/// Wraps a call's tensor argument; returns the state the output must be wrapped with.
pub(crate) struct Wrapping(Arc<State>);

/// Prepares the backward hooks of one call: `None` when there are none.
pub(crate) fn wrap_input(
    input: &mut Tensor,
    pre: Vec<HookEntry>,
    full: Vec<HookEntry>,
) -> candle_core::Result<Option<Wrapping>> {
    if pre.is_empty() && full.is_empty() {
        return Ok(None);
    }
    let state = Arc::new(State {
        pre,
        full,
        input_requires_grad: input.track_op(),
        grad_output: Mutex::new(None),
    });
    if state.input_requires_grad {
        *input = input.apply_op1(HookOp {
            state: state.clone(),
            side: Side::Input,
        })?;
    }
    Ok(Some(Wrapping(state)))
}

/// Wraps a call's tensor output so its gradient runs the hooks.
pub(crate) fn wrap_output(output: &mut Tensor, wrapping: Wrapping) -> candle_core::Result<()> {
    if output.track_op() {
        *output = output.apply_op1(HookOp {
            state: wrapping.0,
            side: Side::Output,
        })?;
    }
    Ok(())
}
