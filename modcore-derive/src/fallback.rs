//! What a failed derive emits besides its errors: stub impls of `Module`, `Member` and
//! `MemberAccess` whose bodies are never run, so the user sees the one real error instead of a
//! cascade of "the trait `Module` is not implemented" errors wherever the type is used.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::expand::tensor_type;

pub fn expand(input: &DeriveInput, krate: &syn::Path, pinned: Option<&syn::Type>) -> TokenStream {
    let ident = &input.ident;
    let (t, module_generics) = tensor_type(&input.generics, krate, pinned);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (module_impl_generics, _, _) = module_generics.split_for_impl();
    let mut module_where = input
        .generics
        .where_clause
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(where));
    module_where.predicates.push(syn::parse_quote!(
        Self: ::core::marker::Send + ::core::marker::Sync + 'static
    ));
    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc(hidden)]
            pub const MEMBERS: &'static [#krate::MemberInfo] = &[];
        }

        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::Member for #ident #ty_generics #where_clause {
                const KIND: #krate::MemberKind = #krate::MemberKind::Module;
            }

            #[automatically_derived]
            impl #module_impl_generics #krate::Module<#t> for #ident #ty_generics #module_where {
                #krate::__module_fallback_body!(#krate, #t);
            }
        };
    }
}
