//! A borrowing model of the derive input. Every node keeps the syn node it came from, so
//! errors point at what the user wrote.

use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Type};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::ctxt::Ctxt;

/// The struct being derived.
pub struct Input<'a> {
    pub ident: &'a Ident,
    pub generics: &'a Generics,
    pub attrs: ContainerAttrs,
    pub fields: Vec<Field<'a>>,
}

/// What a field is to the module.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The `ModuleCore` field.
    Core,
    /// `#[module(skip)]`: plain data.
    Skip,
    /// A parameter, buffer or module (or a collection of them).
    Member,
}

/// One field.
pub struct Field<'a> {
    /// How the field is reached: `self.name` or `self.0`.
    pub member: syn::Member,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
    pub role: Role,
    /// The name in paths and keys: the field name, its `rename`, or for tuple structs the index
    /// among member fields (`"0"`, `"1"`, …, as `nn.Sequential` numbers its children).
    /// Empty for the plain fields of a tuple struct.
    pub name: String,
    /// The doc comment, lines joined with `\n`.
    pub doc: String,
}

impl<'a> Input<'a> {
    /// Reads the input. Enums and unions are reported and give `None`.
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::container(cx, &input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => &data.fields,
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(Module)]` supports structs only; an enum has no fixed set of members \
                     (hold the variants' modules as fields, or a `Box<dyn Module<T>>`)",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Module)]` supports structs only",
                );
                return None;
            }
        };
        let mut member_index = 0;
        let fields = match fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            Fields::Unnamed(unnamed) => unnamed.unnamed.iter().collect(),
            Fields::Unit => Vec::new(),
        }
        .into_iter()
        .enumerate()
        .map(|(i, field)| {
            let attrs = attr::field(cx, &field.attrs);
            let role = if attrs.core.is_some() || is_module_core(&field.ty) {
                Role::Core
            } else if attrs.skip.is_some() {
                Role::Skip
            } else {
                Role::Member
            };
            let member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(i.into()),
            };
            let default_name = match &field.ident {
                // `r#type` is the member `type`, as serde and thiserror name it.
                Some(ident) => ident.unraw().to_string(),
                None if role == Role::Member => {
                    member_index += 1;
                    (member_index - 1).to_string()
                }
                // A plain field of a tuple struct has no name to clash with.
                None => String::new(),
            };
            let name = match &attrs.rename {
                Some(rename) => rename.value(),
                None => default_name,
            };
            Field {
                member,
                ty: &field.ty,
                doc: doc_comment(&field.attrs),
                attrs,
                role,
                name,
            }
        })
        .collect();
        Some(Input {
            ident: &input.ident,
            generics: &input.generics,
            attrs,
            fields,
        })
    }

    pub fn members(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.role == Role::Member)
    }

    pub fn core_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.role == Role::Core)
    }

    /// The tensor type: `#[module(tensor = …)]`, else the one the members' `Parameter<X>` and
    /// `Buffer<X>` types name (the first; `check` refuses a second, different one).
    pub fn tensor(&self) -> Option<&Type> {
        self.attrs
            .tensor
            .as_ref()
            .or_else(|| self.members().find_map(|f| tensor_argument(f.ty)))
    }
}

/// The tensor type a member's type names: `X` in `Parameter<X>` or `Buffer<X>`, also inside
/// `Option`, `Box`, `Vec`, arrays and maps. `None` for module types, whose tensor type the
/// syntax does not show.
pub fn tensor_argument(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let last_type = args.args.iter().rev().find_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })?;
            match last.ident.to_string().as_str() {
                "Parameter" | "Buffer" => Some(last_type),
                "Option" | "Box" | "Vec" | "IndexMap" | "BTreeMap" => tensor_argument(last_type),
                _ => None,
            }
        }
        Type::Array(array) => tensor_argument(&array.elem),
        Type::Group(group) => tensor_argument(&group.elem),
        Type::Paren(paren) => tensor_argument(&paren.elem),
        _ => None,
    }
}

/// Whether the type is `ModuleCore` (by its last path segment, so `modcore::ModuleCore` too).
fn is_module_core(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "ModuleCore" && s.arguments.is_none()),
        Type::Group(group) => is_module_core(&group.elem),
        _ => false,
    }
}

fn doc_comment(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).to_owned())
        .collect();
    lines.join("\n").trim().to_owned()
}
