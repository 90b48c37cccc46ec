//! `#[derive(Module)]` for [modcore](https://docs.rs/modcore).
//!
//! This crate is the macro only; its documentation, the runtime it generates code for and the
//! rules it checks are in `modcore`. The stages are one file each: `ast` (a borrowing model of
//! the input), `attr` (the `#[module(...)]` and `#[buffer(...)]` attributes), `check`
//! (cross-field rules), `expand` (the generated impls) and `fallback` (the stub emitted next to
//! errors, so a failed derive shows one error, not a cascade).

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod fallback;
mod reserved;
mod table;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `modcore::Module` (and `modcore::Member`) for a struct with one `ModuleCore` field.
///
/// See the `modcore` crate for the attributes (`#[module(skip)]`, `#[module(rename = "...")]`,
/// `#[buffer(persistent = false)]`, `#[module(crate = path)]`) and the rules.
#[proc_macro_derive(Module, attributes(module, buffer))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// `modcore::RESERVED_NAMES`: the names no member may take, as an array expression. Not part of
/// the public API.
#[doc(hidden)]
#[proc_macro]
pub fn __reserved_names(_: TokenStream) -> TokenStream {
    reserved::tokens().into()
}
