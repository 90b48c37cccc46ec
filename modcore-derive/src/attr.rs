//! The attributes: `#[module(...)]` on the struct and on fields, `#[buffer(...)]` on fields.
//!
//! Each key is checked where it is parsed: an unknown key is reported under its own tokens with
//! the nearest valid key and the list of valid ones, a repeated key under its second use.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitBool, LitStr, Path};

use crate::ctxt::Ctxt;

/// A value given at most once: serde's `Attr`. The second `set` reports a duplicate.
pub struct Once<T> {
    namespace: &'static str,
    value: Option<T>,
}

impl<T> Once<T> {
    fn new(namespace: &'static str) -> Self {
        Once {
            namespace,
            value: None,
        }
    }

    /// Records `value` under the key `path`, or reports the key as a duplicate.
    fn set(&mut self, cx: &Ctxt, path: &Path, value: T) {
        if self.value.is_some() {
            let key = path_name(path);
            let namespace = self.namespace;
            cx.error_spanned_by(path, format!("duplicate {namespace} attribute `{key}`"));
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// Struct-level `#[module(...)]`.
#[derive(Default)]
pub struct ContainerAttrs {
    /// `crate = path`: where the runtime is (default `::modcore`).
    pub krate: Option<Path>,
    /// `tensor = Type`: implement `Module<Type>` only, instead of `Module<T>` for every `T`
    /// the members allow.
    pub tensor: Option<syn::Type>,
    /// `version = N`: the state-dict format version (PyTorch's `_version`), parsed (so `2u8`
    /// is 2), with the literal for its span.
    pub version: Option<(u32, syn::LitInt)>,
    /// `migrate = path`: the function upgrading older state dicts on load.
    pub migrate: Option<Path>,
    /// `extra_repr = path`: the function giving the text inside the printed parentheses.
    pub extra_repr: Option<Path>,
}

/// Field-level `#[module(...)]` and `#[buffer(...)]`.
#[derive(Default)]
pub struct FieldAttrs {
    /// `#[module(skip)]`, with the `skip` token for errors.
    pub skip: Option<Path>,
    /// `#[module(rename = "...")]`.
    pub rename: Option<LitStr>,
    /// `#[buffer(persistent = ...)]`, with the attribute's path for errors.
    pub persistent: Option<(Path, LitBool)>,
    /// `#[module(register_none)]`: an `Option` module field holding `None` is a registered
    /// `None` submodule, not a plain attribute.
    pub register_none: Option<Path>,
    /// `#[module(core)]`: this field is the `ModuleCore` (under an alias or another path).
    pub core: Option<Path>,
    /// The first modcore attribute on the field, for errors about the field's attributes.
    pub first: Option<Attribute>,
}

impl FieldAttrs {
    /// Whether any modcore attribute other than `core` was given.
    pub fn any_member_attribute(&self) -> bool {
        self.skip.is_some()
            || self.rename.is_some()
            || self.persistent.is_some()
            || self.register_none.is_some()
    }
}

fn path_name(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

const STRUCT_KEYS: &[&str] = &["crate", "tensor", "version", "migrate", "extra_repr"];
const FIELD_KEYS: &[&str] = &["skip", "rename", "register_none", "core"];
const BUFFER_KEYS: &[&str] = &["persistent"];

/// ``unknown {namespace} attribute `key` ``, with the nearest valid key (if one is close) and
/// every valid one.
fn unknown(meta: &ParseNestedMeta, namespace: &str, valid: &[&str]) -> syn::Error {
    let key = path_name(&meta.path);
    let nearest = valid
        .iter()
        .map(|v| (edit_distance(&key, v), *v))
        .filter(|(d, v)| *d <= (v.len().max(key.len()) / 3).max(1))
        .min();
    let list = valid
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = match nearest {
        Some((_, v)) => format!("; did you mean `{v}`? valid keys: {list}"),
        None => format!("; valid keys: {list}"),
    };
    meta.error(format!("unknown {namespace} attribute `{key}`{hint}"))
}

/// Levenshtein distance, for the nearest valid key (keys are a few bytes long).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

fn is_modcore_attribute(attr: &Attribute) -> bool {
    attr.path().is_ident("module") || attr.path().is_ident("buffer")
}

/// Reads the struct's `#[module(...)]` attributes.
pub fn container(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut krate = Once::new("module");
    let mut tensor = Once::new("module");
    let mut version = Once::new("module");
    let mut migrate = Once::new("module");
    let mut extra_repr = Once::new("module");
    for attr in attrs {
        if attr.path().is_ident("buffer") {
            cx.error_spanned_by(attr, "`#[buffer(...)]` belongs on a buffer field");
            continue;
        }
        if !attr.path().is_ident("module") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            if path.is_ident("crate") {
                krate.set(cx, path, meta.value()?.parse()?);
            } else if path.is_ident("tensor") {
                tensor.set(cx, path, meta.value()?.parse()?);
            } else if path.is_ident("version") {
                let literal: syn::LitInt = meta.value()?.parse()?;
                let value = literal.base10_parse::<u32>()?;
                version.set(cx, path, (value, literal));
            } else if path.is_ident("migrate") {
                migrate.set(cx, path, meta.value()?.parse()?);
            } else if path.is_ident("extra_repr") {
                extra_repr.set(cx, path, meta.value()?.parse()?);
            } else if FIELD_KEYS.iter().any(|k| path.is_ident(k)) {
                let key = path_name(path);
                return Err(meta.error(format!("`{key}` is a field attribute; put it on a field")));
            } else {
                return Err(unknown(&meta, "module", STRUCT_KEYS));
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    ContainerAttrs {
        krate: krate.get(),
        tensor: tensor.get(),
        version: version.get(),
        migrate: migrate.get(),
        extra_repr: extra_repr.get(),
    }
}

/// Reads a field's `#[module(...)]` and `#[buffer(...)]` attributes.
pub fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut skip = Once::new("module");
    let mut rename = Once::new("module");
    let mut register_none = Once::new("module");
    let mut core = Once::new("module");
    let mut persistent = Once::new("buffer");
    for attr in attrs {
        let result = if attr.path().is_ident("module") {
            attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if path.is_ident("skip") {
                    skip.set(cx, path, path.clone());
                } else if path.is_ident("rename") {
                    rename.set(cx, path, meta.value()?.parse()?);
                } else if path.is_ident("register_none") {
                    register_none.set(cx, path, path.clone());
                } else if path.is_ident("core") {
                    core.set(cx, path, path.clone());
                } else if STRUCT_KEYS.iter().any(|k| path.is_ident(k)) {
                    let key = path_name(path);
                    return Err(meta.error(format!(
                        "`{key}` is a struct attribute; put it on the struct"
                    )));
                } else {
                    return Err(unknown(&meta, "module", FIELD_KEYS));
                }
                Ok(())
            })
        } else if attr.path().is_ident("buffer") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("persistent") {
                    let value: LitBool = meta.value()?.parse()?;
                    persistent.set(cx, &meta.path, (attr.path().clone(), value));
                    Ok(())
                } else {
                    Err(unknown(&meta, "buffer", BUFFER_KEYS))
                }
            })
        } else {
            Ok(())
        };
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    FieldAttrs {
        skip: skip.get(),
        rename: rename.get(),
        persistent: persistent.get(),
        register_none: register_none.get(),
        core: core.get(),
        first: attrs.iter().find(|a| is_modcore_attribute(a)).cloned(),
    }
}
