//! What a failed derive emits besides its errors: the same impls as a successful one, for a
//! type with no members and bodies that are never run (the program does not compile), so the
//! user sees the one real error instead of a cascade of "the trait `Module` is not implemented"
//! errors wherever the type is used.

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::expand::Impls;

pub fn expand(input: &DeriveInput, krate: &syn::Path, tensor: Option<&syn::Type>) -> TokenStream {
    Impls {
        krate: krate.clone(),
        ident: &input.ident,
        generics: &input.generics,
        tensor,
        printed_tensor: tensor,
        members: Vec::new(),
        core: None,
        plain: Vec::new(),
        table_doc: None,
        version: None,
        migrate: None,
        extra_repr: None,
    }
    .generate()
}
