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
