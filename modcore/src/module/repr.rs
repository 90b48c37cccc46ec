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
//! A collection field (`Vec<M>`, `[M; N]`, maps) prints as the container it stands for
//! (`ModuleList`, `ModuleDict`, `ParameterList`, …), so a model declared with plain collections
//! prints like its PyTorch original.

use crate::module::member::{Attr, Collection};
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
    p.read(|t| {
        let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
        format!(
            "Parameter containing: [{} of size {}]",
            t.dtype(),
            dims.join("x")
        )
    })
}

fn entry_repr<T: Tensor>(attr: Attr<'_, T>) -> String {
    match attr {
        Attr::Module(Some(m)) => repr(m),
        Attr::Module(None) | Attr::Parameter(None) | Attr::Buffer(None) => "None".to_owned(),
        Attr::Collection(c) => collection_repr(c),
        Attr::Parameter(Some(p)) => parameter_line(p),
        Attr::Buffer(Some(b)) => b.read(|t| {
            let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
            format!(
                "Tensor containing: [{} of size {}]",
                t.dtype(),
                dims.join("x")
            )
        }),
        Attr::Plain => String::new(),
    }
}

/// A collection printed as the PyTorch container it stands for. Module lists fold runs of equal
/// items (`(0-2): 3 x ReLU()`); parameter containers keep PyTorch's extra indentation.
fn collection_repr<T: Tensor>(collection: &dyn Collection<T>) -> String {
    let name = collection.type_name();
    let items: Vec<(String, String)> = collection
        .keys()
        .into_iter()
        .filter_map(|key| {
            let item = collection.item(&key)?;
            Some((key, entry_repr(item)))
        })
        .collect();
    if name.starts_with("Parameter") || name.starts_with("Buffer") {
        let lines: Vec<String> = items.iter().map(|(k, r)| format!("  ({k}): {r}")).collect();
        return assemble(name, &lines.join("\n"), Vec::new());
    }
    if name == "ModuleList" {
        return assemble(name, "", folded(&items));
    }
    let lines = items
        .iter()
        .map(|(k, r)| format!("({k}): {}", add_indent(r, 2)))
        .collect();
    assemble(name, "", lines)
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

/// PyTorch's `repr(module)`.
pub(crate) fn repr<T: Tensor>(module: &dyn Module<T>) -> String {
    let mut children = Vec::new();
    for info in module.members() {
        let shown = info.kind == MemberKind::Module || info.collection;
        if !shown {
            continue;
        }
        if let Some(attr) = module.declared_attr(info.name) {
            children.push(format!(
                "({}): {}",
                info.name,
                add_indent(&entry_repr(attr), 2)
            ));
        }
    }
    if let Some(registry) = module.core().registry::<T>() {
        let items: Vec<(String, String)> = registry
            .modules
            .iter()
            .map(|(name, child)| {
                let text = child.as_deref().map_or_else(|| "None".to_owned(), repr);
                (name.clone(), text)
            })
            .collect();
        if module.as_any().is::<crate::containers::ModuleList<T>>() {
            // ModuleList has its own repr: folded runs, and no extra_repr.
            return assemble("ModuleList", "", folded(&items));
        }
        children.extend(
            items
                .iter()
                .map(|(name, text)| format!("({name}): {}", add_indent(text, 2))),
        );
    }
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
