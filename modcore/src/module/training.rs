//! Gradients and freezing over a whole tree: PyTorch's `requires_grad_`, `zero_grad` and the
//! `{name: p.grad}` users build from `named_parameters()`, plus freezing by path pattern.
//!
//! Every function here walks the tree's parameters once, tied parameters once.

use crate::hooks::capture::matches;
use crate::{Module, NameMap, Parameter, Tensor, TensorError};

/// Sets `requires_grad` on every parameter whose dotted name, or the path of a module holding it,
/// matches `pattern` (the glob syntax of [`capture`](crate::capture): `*` one segment, `**` any
/// number). Returns how many parameter names matched.
pub(crate) fn requires_grad_for<T: Tensor>(
    module: &dyn Module<T>,
    pattern: &str,
    requires_grad: bool,
) -> usize {
    let mut matched = 0;
    // Every name, tied aliases included: a parameter is selected under any of its names.
    module.visit_parameters("", true, false, &mut |name, p| {
        if selects(pattern, name) {
            p.set_requires_grad(requires_grad);
            matched += 1;
        }
    });
    matched
}

/// Whether `pattern` matches `name` or one of its module prefixes (`a.b` and `a` of `a.b.c`).
pub(crate) fn selects(pattern: &str, name: &str) -> bool {
    matches(pattern, name)
        || name
            .char_indices()
            .filter(|&(_, c)| c == '.')
            .any(|(i, _)| matches(pattern, &name[..i]))
}

/// PyTorch's `zero_grad(set_to_none)`: every gradient cleared, or filled with zeros (detached).
/// With zeros, every new gradient is made before any is written, so a failure changes nothing.
pub(crate) fn zero_grad<T: Tensor>(
    module: &dyn Module<T>,
    set_to_none: bool,
) -> Result<(), TensorError> {
    let mut zeroed: Vec<(&Parameter<T>, Option<T>)> = Vec::new();
    let mut failure = None;
    module.visit_parameters("", true, true, &mut |_, p| {
        if set_to_none {
            zeroed.push((p, None));
        } else if let Some(grad) = p.grad() {
            match grad.detach().zeros_like() {
                Ok(zeros) => zeroed.push((p, Some(zeros))),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    for (p, grad) in zeroed {
        p.set_grad(grad);
    }
    Ok(())
}

/// Each parameter's gradient by name, in `named_parameters` order: tied parameters once, and
/// only parameters that require grad and have one.
pub(crate) fn named_grads<T: Tensor>(module: &dyn Module<T>) -> NameMap<T> {
    let mut grads = NameMap::new();
    module.visit_parameters("", true, true, &mut |name, p| {
        if p.requires_grad() {
            if let Some(grad) = p.grad() {
                grads.push_new(name, grad);
            }
        }
    });
    grads
}

#[cfg(test)]
mod tests {
    use super::selects;

    #[test]
    fn a_pattern_selects_parameters_and_the_modules_holding_them() {
        assert!(selects("encoder", "encoder.layer.0.weight"));
        assert!(selects("encoder.*", "encoder.layer.weight"));
        assert!(selects("encoder.*", "encoder.bias"));
        assert!(selects("**.bias", "decoder.fc.bias"));
        assert!(!selects("encoder", "encoder2.weight"));
        assert!(!selects("**.bias", "decoder.fc.weight"));
        assert!(!selects("decoder.*", "encoder.bias"));
    }
}
