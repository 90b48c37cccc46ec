//! The static registration table: one `MemberInfo` row per declared member, and the rustdoc
//! text that shows the table on the type's page.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::ast::{Field, Input};

/// The type as the user wrote it, with rustc-like spacing (`Box<dyn Module<T>>`, `[Linear; 4]`).
pub fn type_string(ty: &syn::Type) -> String {
    let raw = ty.to_token_stream().to_string();
    let tight = |c: char| matches!(c, '<' | '>' | ':' | '&' | '(' | ')' | '[' | ']' | ',' | ';');
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let keep = matches!(prev, Some(',') | Some(';'))
                || !(prev.is_some_and(tight) || next.is_some_and(tight));
            if !keep {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Whether `field` is saved in the state dict (`#[buffer(persistent = false)]` says not).
pub fn persistent(field: &Field) -> bool {
    field
        .attrs
        .persistent
        .as_ref()
        .is_none_or(|(_, lit)| lit.value)
}

/// `MemberInfo { ... }` for one member, through `derive_support::row` (imported as `__s` in
/// the expansion).
pub fn row(field: &Field) -> TokenStream {
    let name = &field.name;
    let rust_field = match &field.member {
        syn::Member::Named(ident) => ident.to_string(),
        syn::Member::Unnamed(index) => index.index.to_string(),
    };
    let ty = field.ty;
    let persistent = persistent(field);
    let ty_string = type_string(ty);
    let doc = &field.doc;
    // Spanned at the type: a type that is not a `Member` is reported there, once, with the
    // trait's `on_unimplemented` message.
    let kind = quote_spanned!(ty.span()=> <#ty as __s::Member>::SHAPE);
    quote! {
        __s::row(#name, #rust_field, #kind, #persistent, #ty_string, #doc)
    }
}

/// The rustdoc of `MEMBERS`: the table as markdown.
pub fn doc(input: &Input) -> String {
    let mut doc = format!(
        "The static registration table of `{}`: its declared members in declaration order, \
         written by `#[derive(Module)]`.\n\n\
         | name | type | state dict | doc |\n|---|---|---|---|\n",
        input.ident
    );
    for field in input.members() {
        let saved = if persistent(field) {
            "saved"
        } else {
            "not saved"
        };
        let text = field.doc.replace('|', "\\|").replace('\n', " ");
        doc.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            field.name,
            type_string(field.ty).replace('|', "\\|"),
            saved,
            text
        ));
    }
    if input.members().next().is_none() {
        doc.push_str("| | | | *(no members)* |\n");
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::type_string;

    fn ts(src: &str) -> String {
        type_string(&syn::parse_str(src).unwrap())
    }

    #[test]
    fn types_print_as_written() {
        assert_eq!(ts("Parameter<T>"), "Parameter<T>");
        assert_eq!(ts("Box<dyn Module<Tensor>>"), "Box<dyn Module<Tensor>>");
        assert_eq!(ts("[Linear; 4]"), "[Linear; 4]");
        assert_eq!(ts("IndexMap<String, Linear>"), "IndexMap<String, Linear>");
        assert_eq!(
            ts("Option<modcore::Parameter<T>>"),
            "Option<modcore::Parameter<T>>"
        );
    }
}
