//! Cross-field rules, checked after parsing and before generation (which never re-validates).
//!
//! Rules that need type information (is this field's type a member? is a `#[buffer]` field a
//! buffer?) are checked by the compiler on assertions `expand` emits.

use std::collections::HashMap;

use syn::GenericParam;

use crate::ast::{Input, Role};
use crate::ctxt::Ctxt;
use crate::reserved::RESERVED_NAMES;

pub fn check(cx: &Ctxt, input: &Input) {
    check_core(cx, input);
    check_generics(cx, input);
    check_field_attrs(cx, input);
    check_names(cx, input);
    check_member_types(cx, input);
    check_one_tensor_type(cx, input);
}

/// A module holds one tensor type: two fields naming different ones (`Parameter<Tensor>` next to
/// `Buffer<ArcArray<…>>`) would make a struct that is a `Module` for no tensor type.
fn check_one_tensor_type(cx: &Ctxt, input: &Input) {
    if input.attrs.tensor.is_some() {
        return;
    }
    let mut first: Option<(&crate::ast::Field, String)> = None;
    for field in input.members() {
        let Some(tensor) = crate::ast::tensor_argument(field.ty) else {
            continue;
        };
        let name = short_type(tensor);
        match &first {
            None => first = Some((field, name)),
            Some((other, held)) if *held != name => {
                cx.error_spanned_by(
                    field.ty,
                    format!(
                        "`{}` holds tensors of type `{name}`, but `{}` holds `{held}`: a module \
                         holds one tensor type",
                        field.name, other.name
                    ),
                );
            }
            Some(_) => {}
        }
    }
}

/// A type as written, with every path shortened to its last segment (`candle_core::Tensor` and
/// `Tensor` name one type).
fn short_type(ty: &syn::Type) -> String {
    let text = crate::table::type_string(ty);
    let mut out = String::new();
    for piece in text.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        let (path, delimiter) = match piece.char_indices().last() {
            Some((i, c)) if !(c.is_alphanumeric() || c == '_' || c == ':') => piece.split_at(i),
            _ => (piece, ""),
        };
        out.push_str(path.rsplit("::").next().unwrap_or(path));
        out.push_str(delimiter);
    }
    out
}

/// Exactly one `ModuleCore` field: the compile-time form of PyTorch's "cannot assign module
/// before the module is initialised".
fn check_core(cx: &Ctxt, input: &Input) {
    let mut cores = input.core_fields();
    if cores.next().is_none() {
        let name = input.ident;
        let message = if input.fields.is_empty() {
            format!(
                "a module needs a `ModuleCore` field for its state: write \
                 `struct {name} {{ core: ModuleCore }}`"
            )
        } else {
            "expected exactly one `ModuleCore` field, which holds the module's state (the \
             training flag, run-time members, hooks): add `core: ModuleCore`, or mark a field \
             whose type is an alias of it `#[module(core)]`"
                .to_owned()
        };
        cx.error_spanned_by(name, message);
    }
    for extra in cores {
        cx.error_spanned_by(
            extra.ty,
            "expected exactly one `ModuleCore` field, found another",
        );
    }
}

/// Modules are `'static` (they are `Any`, and may be boxed as `dyn Module<T>`).
fn check_generics(cx: &Ctxt, input: &Input) {
    for param in &input.generics.params {
        if let GenericParam::Lifetime(lifetime) = param {
            cx.error_spanned_by(
                lifetime,
                "modules must be 'static: a module cannot borrow, remove the lifetime parameter",
            );
        }
    }
}

fn check_field_attrs(cx: &Ctxt, input: &Input) {
    for field in &input.fields {
        let attrs = &field.attrs;
        match field.role {
            Role::Core if attrs.any_member_attribute() => cx.error_spanned_by(
                &attrs.first,
                "the `ModuleCore` field takes no module or buffer attributes",
            ),
            Role::Skip => {
                if let (Some(skip), Some(_)) = (&attrs.skip, &attrs.rename) {
                    cx.error_spanned_by(
                        skip,
                        "`skip` and `rename` cannot be combined: a skipped field has no name",
                    );
                }
                if let (Some(skip), Some(_)) = (&attrs.skip, &attrs.persistent) {
                    cx.error_spanned_by(skip, "`#[module(skip)]` and `#[buffer(...)]` cannot be combined: a skipped field is not a buffer");
                }
                if let (Some(skip), Some(_)) = (&attrs.skip, &attrs.register_none) {
                    cx.error_spanned_by(skip, "`skip` and `register_none` cannot be combined: a skipped field is not a submodule");
                }
            }
            _ => {}
        }
    }
}

/// Member types whose mistake the syntax shows: an unordered map (PyTorch's `ModuleDict` keeps
/// insertion order), and a parameter or buffer behind `Arc`/`Rc` (they are shared handles).
fn check_member_types(cx: &Ctxt, input: &Input) {
    for field in input.members() {
        let tokens = quote::ToTokens::to_token_stream(field.ty).to_string();
        let idents: Vec<&str> = tokens
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        let has = |name: &str| idents.contains(&name);
        if has("HashMap") || has("HashSet") {
            cx.error_spanned_by(
                field.ty,
                "`HashMap` is unordered: use `IndexMap` or `BTreeMap` (PyTorch's `ModuleDict` and \
                 `ParameterDict` keep their order, and so do state-dict keys)",
            );
        } else if (has("Arc") || has("Rc")) && (has("Parameter") || has("Buffer")) {
            cx.error_spanned_by(
                field.ty,
                "a `Parameter` or `Buffer` is already a shared handle: drop the `Arc`/`Rc`, and \
                 `clone()` the handle to tie two members to one tensor",
            );
        }
    }
}

/// Member names: non-empty, no `.`, not reserved, unique among members and plain fields.
fn check_names(cx: &Ctxt, input: &Input) {
    let mut seen: HashMap<&str, &crate::ast::Field> = HashMap::new();
    for field in &input.fields {
        if field.role == Role::Member {
            let span_tokens = match &field.attrs.rename {
                Some(rename) => quote::quote!(#rename),
                None => {
                    let member = &field.member;
                    quote::quote!(#member)
                }
            };
            if field.name.is_empty() {
                cx.error_spanned_by(&span_tokens, "member name can't be empty string \"\"");
                continue;
            }
            if field.name.contains('.') {
                cx.error_spanned_by(&span_tokens, "member name can't contain \".\"");
                continue;
            }
            if RESERVED_NAMES.contains(&field.name.as_str()) {
                let name = &field.name;
                cx.error_spanned_by(
                    &span_tokens,
                    format!(
                        "`{name}` is an attribute of every module (PyTorch: attribute '{name}' \
                         already exists); rename the member with #[module(rename = \"...\")]"
                    ),
                );
            }
        }
        if field.name.is_empty() {
            continue;
        }
        if let Some(previous) = seen.insert(&field.name, field) {
            let tokens = match (&field.attrs.rename, &previous.attrs.rename) {
                (Some(rename), _) => quote::quote!(#rename),
                (None, Some(rename)) => quote::quote!(#rename),
                (None, None) => {
                    let member = &field.member;
                    quote::quote!(#member)
                }
            };
            cx.error_spanned_by(tokens, format!("duplicate member name `{}`", field.name));
        }
    }
}
