//! Code generation: the `Module`, `Member` and `MemberAccess` impls, the static table and the
//! compile-time assertions. Runs only on input `check` accepted.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{DeriveInput, GenericParam, Generics, Ident};

use crate::ast::{Input, Role};
use crate::ctxt::Ctxt;
use crate::{check, fallback, table};

pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = crate::ast::Input::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        check::check(&cx, parsed);
    }
    let krate = parsed.as_ref().and_then(|p| p.attrs.krate.clone());
    let tensor = parsed.as_ref().and_then(|p| p.attrs.tensor.clone());
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(&parsed),
        (result, _) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let fallback = fallback::expand(input, &runtime_path(krate), tensor.as_ref());
            quote! { #errors #fallback }
        }
    }
}

/// Where the runtime is: `#[module(crate = path)]`, else `::modcore`.
pub fn runtime_path(krate: Option<syn::Path>) -> syn::Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::modcore))
}

/// The tensor type of the `Module` and `MemberAccess` impls, and their generics: the type
/// pinned by `#[module(tensor = Type)]` with the struct's own generics, or a fresh `__T: Tensor`
/// added to them (the impls then hold for every tensor type the members allow).
pub fn tensor_type(
    generics: &Generics,
    krate: &syn::Path,
    pinned: Option<&syn::Type>,
) -> (TokenStream, Generics) {
    let mut generics = generics.clone();
    if let Some(ty) = pinned {
        return (ty.to_token_stream(), generics);
    }
    let t = Ident::new("__T", Span::call_site());
    generics
        .params
        .push(GenericParam::Type(syn::parse_quote!(#t: #krate::Tensor)));
    (t.to_token_stream(), generics)
}

fn expand(input: &Input) -> TokenStream {
    let krate = runtime_path(input.attrs.krate.clone());
    let ident = input.ident;
    let (t, module_generics) = tensor_type(input.generics, &krate, input.attrs.tensor.as_ref());
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let members: Vec<_> = input.members().collect();
    let names: Vec<&String> = members.iter().map(|f| &f.name).collect();
    let accesses: Vec<&syn::Member> = members.iter().map(|f| &f.member).collect();
    let types: Vec<&syn::Type> = members.iter().map(|f| f.ty).collect();
    let plain: Vec<&String> = input
        .fields
        .iter()
        .filter(|f| f.role != Role::Member && !f.name.is_empty())
        .map(|f| &f.name)
        .collect();
    let core = &input
        .core_fields()
        .next()
        .expect("check ensures one ModuleCore field")
        .member;
    let ident_string = ident.to_string();
    let rows = members.iter().map(|f| table::row(&krate, f));
    let table_doc = table::doc(input);

    let (module_impl_generics, _, _) = module_generics.split_for_impl();
    let mut module_where = input.generics.where_clause.clone().unwrap_or_else(|| syn::parse_quote!(where));
    for ty in &types {
        module_where
            .predicates
            .push(syn::parse_quote!(#ty: #krate::MemberAccess<#t>));
    }
    module_where.predicates.push(syn::parse_quote!(
        Self: ::core::marker::Send + ::core::marker::Sync + 'static
    ));
    let mut access_where = input.generics.where_clause.clone().unwrap_or_else(|| syn::parse_quote!(where));
    access_where
        .predicates
        .push(syn::parse_quote!(Self: #krate::Module<#t>));

    // The table reads `<Ty as Member>::KIND`, so a generic member type must be a `Member`.
    let type_params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    let mut table_where = input.generics.where_clause.clone().unwrap_or_else(|| syn::parse_quote!(where));
    for ty in types.iter().filter(|ty| mentions_any(ty.to_token_stream(), &type_params)) {
        table_where.predicates.push(syn::parse_quote!(#ty: #krate::Member));
    }
    let assertions = assertions(input, &krate);
    let string = quote!(#krate::__private::String);

    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #table_where {
            #[doc = #table_doc]
            pub const MEMBERS: &'static [#krate::MemberInfo] = &[#(#rows),*];
        }

        const _: () = {
            #assertions

            #[automatically_derived]
            impl #impl_generics #krate::Member for #ident #ty_generics #where_clause {
                const KIND: #krate::MemberKind = #krate::MemberKind::Module;
            }

            #[automatically_derived]
            #[allow(private_bounds)]
            impl #module_impl_generics #krate::Module<#t> for #ident #ty_generics #module_where {
                fn core(&self) -> &#krate::ModuleCore {
                    &self.#core
                }
                fn core_mut(&mut self) -> &mut #krate::ModuleCore {
                    &mut self.#core
                }
                fn type_name(&self) -> &'static str {
                    #ident_string
                }
                fn qualified_type_name(&self) -> &'static str {
                    ::core::any::type_name::<Self>()
                }
                fn members(&self) -> &'static [#krate::MemberInfo] {
                    Self::MEMBERS
                }
                fn plain_fields(&self) -> &'static [&'static str] {
                    &[#(#plain),*]
                }
                fn declared_attr(&self, __name: &str) -> ::core::option::Option<#krate::Attr<'_, #t>> {
                    match __name {
                        #(#names => ::core::option::Option::Some(#krate::MemberAccess::<#t>::attr(&self.#accesses)),)*
                        _ => ::core::option::Option::None,
                    }
                }
                fn declared_attr_mut(&mut self, __name: &str) -> ::core::option::Option<#krate::AttrMut<'_, #t>> {
                    match __name {
                        #(#names => ::core::option::Option::Some(#krate::MemberAccess::<#t>::attr_mut(&mut self.#accesses)),)*
                        _ => ::core::option::Option::None,
                    }
                }
                fn assign_declared(
                    &mut self,
                    __name: &str,
                    __value: #krate::Value<#t>,
                ) -> ::core::option::Option<::core::result::Result<(), #string>> {
                    match __name {
                        #(#names => ::core::option::Option::Some(#krate::MemberAccess::<#t>::assign(&mut self.#accesses, __value)),)*
                        _ => ::core::option::Option::None,
                    }
                }
                fn visit_declared<'__a>(
                    &'__a self,
                    __kind: #krate::MemberKind,
                    __path: &mut #string,
                    __f: &mut dyn ::core::ops::FnMut(&mut #string, #krate::Attr<'__a, #t>),
                ) {
                    #(
                        if <#types as #krate::Member>::KIND == __kind {
                            let __len = #krate::__private::push_segment(__path, #names);
                            #krate::MemberAccess::<#t>::visit(&self.#accesses, __path, __f);
                            __path.truncate(__len);
                        }
                    )*
                }
                fn visit_declared_mut(
                    &mut self,
                    __kind: #krate::MemberKind,
                    __path: &mut #string,
                    __f: &mut dyn ::core::ops::FnMut(&mut #string, #krate::AttrMut<'_, #t>),
                ) {
                    #(
                        if <#types as #krate::Member>::KIND == __kind {
                            let __len = #krate::__private::push_segment(__path, #names);
                            #krate::MemberAccess::<#t>::visit_mut(&mut self.#accesses, __path, __f);
                            __path.truncate(__len);
                        }
                    )*
                }
                fn as_dyn(&self) -> &dyn #krate::Module<#t> {
                    self
                }
                fn as_dyn_mut(&mut self) -> &mut dyn #krate::Module<#t> {
                    self
                }
                fn as_any(&self) -> &dyn #krate::__private::Any {
                    self
                }
                fn as_any_mut(&mut self) -> &mut dyn #krate::__private::Any {
                    self
                }
                fn into_any(self: #krate::__private::Box<Self>) -> #krate::__private::Box<dyn #krate::__private::Any> {
                    self
                }
            }

            #[automatically_derived]
            impl #module_impl_generics #krate::MemberAccess<#t> for #ident #ty_generics #access_where {
                fn attr(&self) -> #krate::Attr<'_, #t> {
                    #krate::Attr::Module(::core::option::Option::Some(self))
                }
                fn attr_mut(&mut self) -> #krate::AttrMut<'_, #t> {
                    #krate::AttrMut::Module(::core::option::Option::Some(self))
                }
                fn visit<'__a>(
                    &'__a self,
                    __path: &mut #string,
                    __f: &mut dyn ::core::ops::FnMut(&mut #string, #krate::Attr<'__a, #t>),
                ) {
                    __f(__path, #krate::Attr::Module(::core::option::Option::Some(self)))
                }
                fn visit_mut(
                    &mut self,
                    __path: &mut #string,
                    __f: &mut dyn ::core::ops::FnMut(&mut #string, #krate::AttrMut<'_, #t>),
                ) {
                    __f(__path, #krate::AttrMut::Module(::core::option::Option::Some(self)))
                }
                fn from_value(
                    __value: #krate::Value<#t>,
                ) -> ::core::result::Result<#krate::__private::Box<Self>, #string> {
                    #krate::__private::module_from_value(__value)
                }
            }
        };
    }
}

/// Compile-time checks that need types: every member field's type is a `Member` (the
/// `on_unimplemented` message says to mark plain data `#[module(skip)]`), `#[buffer]` fields are
/// buffers, and no member takes a name every module has. Fields whose type mentions a type
/// parameter are checked where the struct is used instead.
fn assertions(input: &Input, krate: &syn::Path) -> TokenStream {
    let type_params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    let mut out = TokenStream::new();
    for field in input.members() {
        let ty = field.ty;
        let concrete = !mentions_any(ty.to_token_stream(), &type_params);
        if concrete {
            out.extend(quote_spanned! {ty.span()=>
                const _: () = {
                    fn __assert_member<M: ?::core::marker::Sized + #krate::Member>() {}
                    let _ = __assert_member::<#ty>;
                };
            });
            if let Some((path, _)) = &field.attrs.persistent {
                let message = format!(
                    "`#[buffer(...)]` is on `{}`, which is not a buffer",
                    field.name
                );
                out.extend(quote_spanned! {path.span()=>
                    const _: () = ::core::assert!(
                        ::core::matches!(<#ty as #krate::Member>::KIND, #krate::MemberKind::Buffer),
                        #message
                    );
                });
            }
        }
        let name = &field.name;
        let message = format!(
            "`{name}` is an attribute of every module (PyTorch: attribute '{name}' already exists); \
             rename the member with #[module(rename = \"...\")]"
        );
        let span = match &field.attrs.rename {
            Some(rename) => rename.span(),
            None => field.member.span(),
        };
        out.extend(quote_spanned! {span=>
            const _: () = ::core::assert!(!#krate::__private::is_reserved(#name), #message);
        });
    }
    out
}

/// Whether `tokens` contain one of `idents` (a type parameter).
fn mentions_any(tokens: TokenStream, idents: &[&Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => idents.iter().any(|p| **p == ident),
        proc_macro2::TokenTree::Group(group) => mentions_any(group.stream(), idents),
        _ => false,
    })
}
