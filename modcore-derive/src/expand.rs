//! Code generation: the static table, the `Member`, `Module` and `MemberAccess` impls, and the
//! compile-time assertions. Runs only on input `check` accepted; `fallback` reuses
//! [`Impls`] with no members for input it rejected.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{DeriveInput, GenericParam, Generics, Ident, WhereClause};

use crate::ast::{Field, Input, Role};
use crate::ctxt::Ctxt;
use crate::{check, fallback, table};

pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = Input::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        check::check(&cx, parsed);
    }
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(&parsed),
        (result, parsed) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let (krate, tensor) = match parsed {
                Some(p) => (p.attrs.krate, p.attrs.tensor),
                None => (None, None),
            };
            let fallback = fallback::expand(input, &runtime_path(krate), tensor.as_ref());
            quote! { #errors #fallback }
        }
    }
}

/// Where the runtime is: `#[module(crate = path)]`, else `::modcore`.
pub fn runtime_path(krate: Option<syn::Path>) -> syn::Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::modcore))
}

/// Everything the impls of one type are generated from.
pub struct Impls<'a> {
    pub krate: syn::Path,
    pub ident: &'a Ident,
    pub generics: &'a Generics,
    /// `#[module(tensor = Type)]`.
    pub tensor: Option<&'a syn::Type>,
    /// The tensor type `Debug` prints with: the pinned one, else the one the `Parameter<X>` and
    /// `Buffer<X>` fields name. (The `Module` impl stays generic over the tensor type when it is
    /// not pinned: generic impls are instantiated in the user's crate, where the traversals
    /// inline them; a fixed impl measured 1.5x slower for `named_parameters`.)
    pub printed_tensor: Option<&'a syn::Type>,
    pub members: Vec<&'a Field<'a>>,
    /// The `ModuleCore` field; `None` in the fallback, whose bodies are then never run.
    pub core: Option<&'a syn::Member>,
    /// Names of the plain (`#[module(skip)]`) fields.
    pub plain: Vec<&'a str>,
    /// The rustdoc of `MEMBERS`; `None` hides it.
    pub table_doc: Option<String>,
    /// `#[module(version = N)]`, parsed, with its literal's span.
    pub version: Option<(u32, proc_macro2::Span)>,
    /// `#[module(migrate = path)]`.
    pub migrate: Option<&'a syn::Path>,
    /// `#[module(extra_repr = path)]`.
    pub extra_repr: Option<&'a syn::Path>,
}

fn expand(input: &Input) -> TokenStream {
    let impls = Impls {
        krate: runtime_path(input.attrs.krate.clone()),
        ident: input.ident,
        generics: input.generics,
        tensor: input.attrs.tensor.as_ref(),
        printed_tensor: input.tensor(),
        members: input.members().collect(),
        core: input.core_fields().next().map(|f| &f.member),
        plain: input
            .fields
            .iter()
            // The `ModuleCore` is no attribute: PyTorch has no counterpart to show in `dir`.
            .filter(|f| f.role == Role::Skip && !f.name.is_empty())
            .map(|f| f.name.as_str())
            .collect(),
        table_doc: Some(table::doc(input)),
        version: input
            .attrs
            .version
            .as_ref()
            .map(|(v, lit)| (*v, lit.span())),
        migrate: input.attrs.migrate.as_ref(),
        extra_repr: input.attrs.extra_repr.as_ref(),
    };
    let assertions = assertions(input, &impls.krate);
    let generated = impls.generate();
    if assertions.is_empty() {
        return generated;
    }
    quote! {
        #generated
        const _: () = {
            #assertions
        };
    }
}

/// The struct's where clause (or an empty one) plus `predicates`.
fn where_with(
    generics: &Generics,
    predicates: impl IntoIterator<Item = syn::WherePredicate>,
) -> WhereClause {
    let mut clause = generics
        .where_clause
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(where));
    clause.predicates.extend(predicates);
    clause
}

impl Impls<'_> {
    /// The tensor type of the `Module` and `MemberAccess` impls, and their generics: the type
    /// pinned by `#[module(tensor = Type)]` with the struct's own generics, or a fresh
    /// `AnyTensor: Tensor` added to them (the impls then hold for every tensor type the members allow).
    fn tensor_type(&self) -> (TokenStream, Generics) {
        let mut generics = self.generics.clone();
        if let Some(ty) = self.tensor {
            return (ty.to_token_stream(), generics);
        }
        // A name the user can read in errors (`StateDict<AnyTensor>`), not taken by the struct's
        // own parameters; not `T`, which field types often name as an alias in scope.
        let taken: Vec<String> = generics
            .type_params()
            .map(|p| p.ident.to_string())
            .collect();
        let name = std::iter::once("AnyTensor".to_owned())
            .chain((0..).map(|i| format!("AnyTensor{i}")))
            .find(|n| !taken.contains(n))
            .unwrap_or_default();
        let t = Ident::new(&name, Span::call_site());
        generics
            .params
            .push(GenericParam::Type(syn::parse_quote!(#t: __s::Tensor)));
        (t.to_token_stream(), generics)
    }

    /// The bound a pinned tensor type gets in every impl.
    fn tensor_bound(&self) -> Vec<syn::WherePredicate> {
        self.tensor
            .map_or_else(Vec::new, |t| tensor_bound(t, self.generics))
    }

    /// `TensorOf` (the tensor type the tree is printed with: the pinned one, else that of the
    /// first parameter or buffer field, else of the first member) and `Debug` printing
    /// PyTorch's tree. A memberless module that is not pinned has no tensor type, so no `Debug`.
    fn debug_impl(&self) -> TokenStream {
        let ident = self.ident;
        let (impl_generics, ty_generics, _) = self.generics.split_for_impl();
        let (tensor, clause) = match self.printed_tensor {
            Some(ty) => (
                ty.to_token_stream(),
                where_with(self.generics, tensor_bound(ty, self.generics)),
            ),
            None => {
                let holds_tensors = |f: &&&Field| {
                    let tokens = f.ty.to_token_stream().to_string();
                    tokens.contains("Parameter") || tokens.contains("Buffer")
                };
                let Some(field) = self
                    .members
                    .iter()
                    .find(holds_tensors)
                    .or_else(|| self.members.first())
                else {
                    return TokenStream::new();
                };
                let ty = field.ty;
                (
                    quote!(<#ty as __s::TensorOf>::Tensor),
                    // Higher-ranked, so that a field type that is no member (already an error
                    // at the field) does not fail the bound here too: rustc checks it at use.
                    where_with(
                        self.generics,
                        [syn::parse_quote!(for<'x> #ty: __s::TensorOf)],
                    ),
                )
            }
        };
        let this = quote!(#ident #ty_generics);
        let debug_where = where_with(
            self.generics,
            self.tensor_bound()
                .into_iter()
                .chain([syn::parse_quote!(for<'x> #this: __s::Printable)]),
        );
        quote! {
            impl #impl_generics __s::TensorOf for #this #clause {
                type Tensor = #tensor;
            }

            #[automatically_derived]
            impl #impl_generics ::core::fmt::Debug for #this #debug_where {
                #[inline]
                fn fmt(&self, f: &mut __s::Formatter<'_>) -> __s::FmtResult {
                    __s::debug(self, f)
                }
            }
        }
    }

    pub fn generate(&self) -> TokenStream {
        let krate = &self.krate;
        let ident = self.ident;
        let (impl_generics, ty_generics, where_clause) = self.generics.split_for_impl();
        let (t, module_generics) = self.tensor_type();
        let (module_impl_generics, _, _) = module_generics.split_for_impl();

        let accesses: Vec<&syn::Member> = self.members.iter().map(|f| &f.member).collect();
        let types: Vec<&syn::Type> = self.members.iter().map(|f| f.ty).collect();
        let plain = &self.plain;
        let plain_fields = (!plain.is_empty()).then(|| {
            quote! {
                fn plain_fields(&self) -> &'static [&'static str] {
                    &[#(#plain),*]
                }
            }
        });
        let ident_string = ident.to_string();
        let rows = self.members.iter().map(|f| table::row(f));
        let table_doc = match &self.table_doc {
            Some(doc) => quote!(#[doc = #doc]),
            None => quote!(#[doc(hidden)]),
        };
        let (core, core_mut) = match self.core {
            Some(core) => (quote!(&self.#core), quote!(&mut self.#core)),
            None => (
                quote!(::core::unreachable!()),
                quote!(::core::unreachable!()),
            ),
        };

        // The table reads `<Ty as Member>::KIND`, so a generic member type must be a `Member`.
        let type_params: Vec<&Ident> = self.generics.type_params().map(|p| &p.ident).collect();
        let generic_members: Vec<syn::WherePredicate> = types
            .iter()
            .filter(|ty| mentions_any(ty.to_token_stream(), &type_params))
            .map(|ty| syn::parse_quote!(#ty: __s::Member))
            .collect();
        let table_where = where_with(self.generics, generic_members.clone());
        // A member type that names the struct itself (a tree of one type) is not bounded, so the
        // bound cannot recurse forever. A concrete member type is bounded higher-ranked, so the
        // compiler checks it where the module is used, not as a second error next to the
        // table's at the field. A fixed tensor type is bounded the same way, so `tensor = f32`
        // gives the one error `tensor_attribute` spans at `f32`.
        let fixed = self.tensor.is_some();
        let own = &self.ident;
        let member_bounds = types
            .iter()
            .filter(|ty| !mentions_any(ty.to_token_stream(), &[own]))
            .map(|ty| -> syn::WherePredicate {
                if !mentions_any(ty.to_token_stream(), &type_params) {
                    syn::parse_quote!(for<'x> #ty: __s::MemberAccess<#t>)
                } else {
                    syn::parse_quote!(#ty: __s::MemberAccess<#t>)
                }
            });
        let tensor_bound = self.tensor_bound();
        let module_where = where_with(
            self.generics,
            member_bounds
                .chain(generic_members.iter().cloned())
                .chain(tensor_bound.iter().cloned())
                .chain([syn::parse_quote!(
                    Self: ::core::marker::Send + ::core::marker::Sync + 'static
                )]),
        );
        let access_bound: syn::WherePredicate = if fixed {
            syn::parse_quote!(for<'x> Self: __s::Module<#t>)
        } else {
            syn::parse_quote!(Self: __s::Module<#t>)
        };
        // The table's bounds too: `walk_member` reads the table.
        let access_where = where_with(
            self.generics,
            tensor_bound
                .iter()
                .cloned()
                .chain(generic_members)
                .chain([access_bound]),
        );
        let string = quote!(__s::String);
        let option = quote!(::core::option::Option);
        // Through a typed function pointer, spanned at the user's path: a function of another
        // signature is one error there, naming the expected signature.
        let extra_repr = self.extra_repr.map(|path| {
            let f = Ident::new("extra_repr_fn", path.span());
            let function = quote_spanned!(path.span()=> let #f: fn(&Self) -> #string = #path;);
            quote! {
                fn extra_repr(&self) -> #string {
                    #function
                    #f(self)
                }
            }
        });
        let version = self.version.map(|(v, span)| {
            let v = syn::LitInt::new(&format!("{v}u32"), span);
            quote! {
                fn version(&self) -> u32 {
                    #v
                }
            }
        });
        let migrate = self.migrate.map(|path| {
            let f = Ident::new("migrate_fn", path.span());
            let function = quote_spanned! {path.span()=>
                let #f: fn(&Self, &mut #krate::StateDict<#t>, &str, #option<u32>) = #path;
            };
            quote! {
                fn migrate_state_dict(
                    &self,
                    __state_dict: &mut #krate::StateDict<#t>,
                    __prefix: &str,
                    __version: #option<u32>,
                ) {
                    #function
                    #f(self, __state_dict, __prefix, __version)
                }
                fn migrates(&self) -> bool {
                    true
                }
            }
        });

        let debug = self.debug_impl();
        let register_none: Vec<usize> = (self.members.iter().enumerate())
            .filter(|(_, f)| f.attrs.register_none.is_some())
            .map(|(i, _)| i)
            .collect();
        let registers_none = (!register_none.is_empty()).then(|| {
            quote! {
                fn registers_none(&self, i: usize) -> bool {
                    ::core::matches!(i, #(#register_none)|*)
                }
            }
        });
        let indices: Vec<usize> = (0..self.members.len()).collect();
        let place = quote!(__s::Place);
        let accessors = quote! {
            fn member_attr(&self, p: #place) -> #option<__s::Attr<'_, #t>> {
                match p.index() {
                    #(#indices => __s::at(&self.#accesses, #core, p),)*
                    _ => #option::None,
                }
            }
            fn member_attr_mut(&mut self, p: #place) -> #option<__s::AttrMut<'_, #t>> {
                match p.index() {
                    #(#indices => __s::at_mut(&mut self.#accesses, #core_mut, p),)*
                    _ => #option::None,
                }
            }
            fn walk_declared<'__m>(
                &'__m self,
                kind: __s::MemberKind,
                walk: &mut __s::Walk<'__m, '_, #t>,
            ) {
                #(__s::walk_field(self, &self.#accesses, #indices, kind, walk);)*
            }
            fn assign_member(&mut self, i: usize, v: __s::Value<#t>) -> __s::Assigned {
                match i {
                    #(#indices => __s::assign(&mut self.#accesses, v),)*
                    _ => #option::None,
                }
            }
        };

        quote! {
            const _: () = {
                use #krate::derive_support as __s;
                #debug

                impl #impl_generics #ident #ty_generics #table_where {
                    #table_doc
                    pub const MEMBERS: &'static [__s::MemberInfo] = &[#(#rows),*];
                }

                impl #impl_generics __s::Member for #ident #ty_generics #where_clause {}
                impl #impl_generics __s::Submodule for #ident #ty_generics #where_clause {}

                #[automatically_derived]
                impl #module_impl_generics __s::Module<#t> for #ident #ty_generics #module_where {
                    // Leaf functions this small are inlined across crates without `#[inline]`.
                    fn core(&self) -> &__s::ModuleCore {
                        #core
                    }
                    fn core_mut(&mut self) -> &mut __s::ModuleCore {
                        #core_mut
                    }
                    fn type_name(&self) -> &'static str {
                        #ident_string
                    }
                    fn members(&self) -> &'static [__s::MemberInfo] {
                        Self::MEMBERS
                    }
                    #plain_fields
                    #registers_none
                    #accessors
                    #version
                    #migrate
                    #extra_repr
                }

                #[automatically_derived]
                impl #module_impl_generics __s::MemberAccess<#t> for #ident #ty_generics #access_where {
                    fn attr<'__m>(&'__m self, _: __s::Slot<'__m>) -> __s::Attr<'__m, #t> {
                        __s::Attr::Module(#option::Some(self))
                    }
                    fn attr_mut<'__m>(&'__m mut self, _: __s::SlotMut<'__m>) -> __s::AttrMut<'__m, #t> {
                        __s::AttrMut::Module(#option::Some(self))
                    }
                    #[inline]
                    fn walk_member<'__m>(
                        &'__m self,
                        _: __s::Slot<'__m>,
                        name: &str,
                        walk: &mut __s::Walk<'__m, '_, #t>,
                    ) {
                        __s::walk_child(self, const { __s::declares(Self::MEMBERS) }, name, walk)
                    }
                    fn from_value(v: __s::Value<#t>) -> __s::FromValue<Self> {
                        __s::module_from_value(v)
                    }
                }
            };
        }
    }
}

/// Compile-time checks that need types, each reported at the attribute that asks for it:
/// `tensor = X` names a tensor type, `#[buffer]` fields hold buffers, `register_none` fields are
/// `Option`s of submodules. (That
/// every member field's type is a `Member` is checked by the table, see `table::row`.) They run
/// in a function with the struct's generics, so fields that mention a type parameter are
/// checked too.
fn assertions(input: &Input, krate: &syn::Path) -> TokenStream {
    let mut checks = TokenStream::new();
    if let Some(tensor) = &input.attrs.tensor {
        let tensor = respanned(tensor, tensor.span());
        checks.extend(quote! {tensor_attribute::<#tensor>();});
    }
    for field in input.members() {
        let ty = field.ty;
        // The type's tokens take the attribute's span, so the error points at the attribute.
        if let Some((path, _)) = &field.attrs.persistent {
            let ty = respanned(ty, path.span());
            checks.extend(quote_spanned! {path.span()=> buffer_attribute::<#ty>();});
        }
        if let Some(path) = &field.attrs.register_none {
            let ty = respanned(ty, path.span());
            checks.extend(quote_spanned! {path.span()=> register_none_attribute::<#ty>();});
        }
    }
    if checks.is_empty() {
        return checks;
    }
    let (impl_generics, _, where_clause) = input.generics.split_for_impl();
    quote! {
        fn tensor_attribute<X: #krate::Tensor>() {}
        fn buffer_attribute<F: ?::core::marker::Sized + #krate::derive_support::BufferField>() {}
        fn register_none_attribute<F: ?::core::marker::Sized + #krate::derive_support::OptionalSubmodule>() {}
        #[allow(dead_code)]
        fn attributes #impl_generics () #where_clause {
            #checks
        }
    }
}

/// `t: Tensor`, higher-ranked for a concrete `t` (see `generate`), plain for one naming the
/// struct's type parameters (`Parameter<X>` with `X` unbounded in the struct is a tensor type by
/// use).
fn tensor_bound(t: &syn::Type, generics: &Generics) -> Vec<syn::WherePredicate> {
    let type_params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    if mentions_any(t.to_token_stream(), &type_params) {
        vec![syn::parse_quote!(#t: __s::Tensor)]
    } else {
        vec![syn::parse_quote!(for<'x> #t: __s::Tensor)]
    }
}

/// `tokens` with every token at `span`.
fn respanned(tokens: impl ToTokens, span: Span) -> TokenStream {
    tokens
        .to_token_stream()
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respanned(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// Whether `tokens` contain one of `idents` (a type parameter).
fn mentions_any(tokens: TokenStream, idents: &[&Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => idents.iter().any(|p| **p == ident),
        proc_macro2::TokenTree::Group(group) => mentions_any(group.stream(), idents),
        _ => false,
    })
}
