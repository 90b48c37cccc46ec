//! The printed tree: PyTorch's `Module.__repr__`, `extra_repr` and `ModuleList`'s folding.
//!
//! ```text
//! Net(
//!   (fc1): Linear(in_features=4, out_features=8, bias=True)
//!   (blocks): ModuleList(
//!     (0-2): 3 x Block(...)
//!   )
//!   (head): None
//! )
//! ```
//!
//! (`(head): None` is `register_module("head", None)`, or a `#[module(register_none)]` field.)
//! A collection field (`Vec<M>`, `[M; N]`, maps) is the container it stands for
//! (`ModuleList`, `ModuleDict`, `ParameterList`, …), so a model declared with plain collections
//! prints like its PyTorch original; an `Option` module field holding `None` is a plain
//! attribute and prints nothing, as torchvision's `self.downsample = None`.

use crate::module::member::Attr;
use crate::{MemberKind, Module, Parameter, Tensor};

/// PyTorch's `_addindent`: every line after the first that is not blank gets `spaces` spaces.
fn add_indent(text: &str, spaces: usize) -> String {
    let mut lines = text.split('\n');
    let mut out = lines.next().unwrap_or_default().to_owned();
    for line in lines {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(spaces));
        }
        out.push_str(line);
    }
    out
}

/// `Name(extra)` on one line, or the lines indented between `Name(` and `)`.
fn assemble(name: &str, extra: &str, children: Vec<String>) -> String {
    let mut lines: Vec<String> = if extra.is_empty() {
        Vec::new()
    } else {
        extra.split('\n').map(str::to_owned).collect()
    };
    if lines.len() == 1 && children.is_empty() {
        return format!("{name}({})", lines[0]);
    }
    lines.extend(children);
    if lines.is_empty() {
        return format!("{name}()");
    }
    format!("{name}(\n  {}\n)", lines.join("\n  "))
}

/// `Parameter containing: [torch.float32 of size 2x3]`.
pub(crate) fn parameter_line<T: Tensor>(p: &Parameter<T>) -> String {
    p.read(|t| tensor_line("Parameter", t, false))
}

/// `{kind} containing: [{dtype} of size {shape}]`, the dtype as `torch.float32`, or with
/// `legacy_type` as the legacy tensor type (`torch.FloatTensor`) `torch.typename` gives, as
/// `ParameterDict.extra_repr` prints it.
pub(crate) fn tensor_line<T: Tensor>(kind: &str, t: &T, legacy_type: bool) -> String {
    let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
    let dtype = t.dtype();
    let dtype = if legacy_type {
        dtype.legacy_type_name().to_owned()
    } else {
        dtype.to_string()
    };
    format!("{kind} containing: [{dtype} of size {}]", dims.join("x"))
}

/// `ModuleList`'s lines: runs of consecutive equal reprs fold into `(0-2): 3 x ReLU()`.
fn folded(items: &[(String, String)]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start;
        while end + 1 < items.len() && items[end + 1].1 == items[start].1 {
            end += 1;
        }
        let text = add_indent(&items[start].1, 2);
        lines.push(if end == start {
            format!("({}): {text}", items[start].0)
        } else {
            format!(
                "({}-{}): {} x {text}",
                items[start].0,
                items[end].0,
                end - start + 1
            )
        });
        start = end + 1;
    }
    lines
}

/// PyTorch's `repr(module)`: one `(name): child` line per registered submodule (declared,
/// then run-time; `None` ones as `None`), after the `extra_repr` lines.
pub(crate) fn repr<T: Tensor>(module: &dyn Module<T>) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    module.visit_members(
        MemberKind::Module,
        &mut String::new(),
        &mut |name, entry| {
            if let Attr::Module(child) = entry {
                let text = child.map_or_else(|| "None".to_owned(), repr);
                items.push((name.clone(), text));
            }
        },
    );
    if module.folds_repr() {
        // ModuleList has its own repr: folded runs, and no extra_repr.
        return assemble(module.type_name(), "", folded(&items));
    }
    let children = items
        .iter()
        .map(|(name, text)| format!("({name}): {}", add_indent(text, 2)))
        .collect();
    assemble(module.type_name(), &module.extra_repr(), children)
}

#[cfg(test)]
mod tests {
    use super::{add_indent, assemble};

    #[test]
    fn add_indent_leaves_the_first_and_blank_lines() {
        assert_eq!(add_indent("A(\n  x\n\n)", 2), "A(\n    x\n\n  )");
        assert_eq!(add_indent("one", 4), "one");
    }

    #[test]
    fn assemble_follows_pytorchs_three_shapes() {
        assert_eq!(assemble("Sequential", "", vec![]), "Sequential()");
        assert_eq!(
            assemble("Linear", "in_features=1", vec![]),
            "Linear(in_features=1)"
        );
        assert_eq!(
            assemble("Block", "x=1", vec!["(c): ReLU()".into()]),
            "Block(\n  x=1\n  (c): ReLU()\n)"
        );
    }
}
