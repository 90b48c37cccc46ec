//! Scoped activation capture: run a model once and collect the outputs (or inputs) of the
//! submodules whose paths match a pattern, with every hook removed afterwards, even when the run
//! fails or panics. This is what most users want hooks for.
//!
//! Patterns are dotted paths where `*` matches one path segment and `**` any number of segments
//! (including none): `"blocks.*.mlp"`, `"**.attn"`, `"encoder.**"`.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use crate::hooks::storage::{HookGuard, HookOptions};
use crate::{Module, ModuleHooks, Tensor};

/// Whether a module path matches a pattern (see the module docs).
///
/// ```
/// use modcore::capture::matches;
/// assert!(matches("blocks.*.mlp", "blocks.3.mlp"));
/// assert!(!matches("blocks.*.mlp", "blocks.3.attn"));
/// assert!(matches("**.attn", "encoder.layers.0.attn"));
/// assert!(matches("**", ""));
/// ```
pub fn matches(pattern: &str, path: &str) -> bool {
    fn go(pattern: &[&str], path: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((&"**", rest)) => (0..=path.len()).any(|skip| go(rest, &path[skip..])),
            Some((segment, rest)) => match path.split_first() {
                Some((first, tail)) => (*segment == "*" || segment == first) && go(rest, tail),
                None => false,
            },
        }
    }
    fn split(s: &str) -> Vec<&str> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split('.').collect()
        }
    }
    go(&split(pattern), &split(path))
}

/// Which side of each matching module to record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// The output of `forward` (after the module's forward hooks).
    Outputs,
    /// The arguments `forward` was called with (after the module's pre-hooks).
    Inputs,
}

/// Runs `run` with hooks on every submodule of `model` whose path matches `pattern`, and returns
/// its result with what was recorded, in call order: `(path, value)` for every call whose output
/// (or arguments) is an `X`. The hooks are removed before this returns or unwinds.
///
/// ```
/// # #[cfg(feature = "candle")] {
/// use candle_core::{Device, Tensor};
/// use modcore::capture::{capture, Capture};
/// use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks};
///
/// #[derive(Module, Default)]
/// #[module(tensor = Tensor)]
/// struct Double { core: ModuleCore }
/// impl Forward<Tensor, Tensor> for Double {
///     type Output = Tensor;
///     fn forward(&self, x: Tensor) -> ForwardResult<Tensor> { Ok((x * 2.0)?) }
/// }
///
/// #[derive(Module, Default)]
/// struct Net { core: ModuleCore, blocks: Vec<Double> }
/// impl Forward<Tensor, Tensor> for Net {
///     type Output = Tensor;
///     fn forward(&self, mut x: Tensor) -> ForwardResult<Tensor> {
///         for b in &self.blocks { x = b.call(x)?; }
///         Ok(x)
///     }
/// }
///
/// let net = Net { core: ModuleCore::new(), blocks: vec![Double::default(), Double::default()] };
/// let x = Tensor::new(&[1f32], &Device::Cpu)?;
/// let (y, seen) = capture::<Tensor, Tensor, _>(&net, "blocks.*", Capture::Outputs, || net.call(x));
/// assert_eq!(y?.to_vec1::<f32>()?, [4.0]);
/// let seen: Vec<(String, Vec<f32>)> = seen.into_iter().map(|(p, t)| (p, t.to_vec1().unwrap())).collect();
/// assert_eq!(seen, [("blocks.0".to_string(), vec![2.0]), ("blocks.1".to_string(), vec![4.0])]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn capture<T, X, R>(
    model: &dyn Module<T>,
    pattern: &str,
    side: Capture,
    run: impl FnOnce() -> R,
) -> (R, Vec<(String, X)>)
where
    T: Tensor,
    X: Clone + Send + 'static,
{
    let recorded: Arc<Mutex<Vec<(String, X)>>> = Arc::default();
    let record = |recorded: &Arc<Mutex<Vec<(String, X)>>>, path: &str, value: &dyn Any| {
        if let Some(value) = value.downcast_ref::<X>() {
            recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((path.to_owned(), value.clone()));
        }
    };
    let guards: Vec<HookGuard> = model
        .named_modules()
        .into_iter()
        .filter(|(path, _)| matches(pattern, path))
        .map(|(path, module)| {
            let recorded = recorded.clone();
            let handle = match side {
                Capture::Outputs => module.register_forward_hook_any(
                    move |_, _, _, output| {
                        if let Some(output) = output {
                            record(&recorded, &path, output);
                        }
                        None
                    },
                    HookOptions::default(),
                ),
                Capture::Inputs => module.register_forward_pre_hook_any(
                    move |_, args| {
                        record(&recorded, &path, args);
                        None
                    },
                    HookOptions::default(),
                ),
            };
            handle.guard()
        })
        .collect();
    let result = run();
    drop(guards);
    let recorded = std::mem::take(&mut *recorded.lock().unwrap_or_else(PoisonError::into_inner));
    (result, recorded)
}
