//! The attributes: `#[module(...)]` on the struct and on fields, `#[buffer(...)]` on fields.
//!
//! Each key is checked where it is parsed: an unknown or repeated key is reported under its
//! own tokens.

use syn::{Attribute, LitBool, LitStr, Path};

use crate::ctxt::Ctxt;

/// Struct-level `#[module(...)]`.
#[derive(Default)]
pub struct ContainerAttrs {
    /// `crate = path`: where the runtime is (default `::modcore`).
    pub krate: Option<Path>,
    /// `tensor = Type`: implement `Module<Type>` only, instead of `Module<T>` for every `T`
    /// the members allow.
    pub tensor: Option<syn::Type>,
    /// `version = N`: the state-dict format version (PyTorch's `_version`).
    pub version: Option<syn::LitInt>,
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
}

impl FieldAttrs {
    /// Whether any modcore attribute was given.
    pub fn any(&self) -> bool {
        self.skip.is_some()
            || self.rename.is_some()
            || self.persistent.is_some()
            || self.register_none.is_some()
    }
}

fn duplicate(cx: &Ctxt, path: &Path, namespace: &str) {
    let key = path_name(path);
    cx.error_spanned_by(path, format!("duplicate {namespace} attribute `{key}`"));
}

fn path_name(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

/// Reads the struct's `#[module(...)]` attributes.
pub fn container(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("buffer") {
            cx.error_spanned_by(attr, "`#[buffer(...)]` belongs on a buffer field");
            continue;
        }
        if !attr.path().is_ident("module") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: Path = meta.value()?.parse()?;
                if out.krate.is_some() {
                    duplicate(cx, &meta.path, "module");
                } else {
                    out.krate = Some(path);
                }
                Ok(())
            } else if meta.path.is_ident("tensor") {
                let ty: syn::Type = meta.value()?.parse()?;
                if out.tensor.is_some() {
                    duplicate(cx, &meta.path, "module");
                } else {
                    out.tensor = Some(ty);
                }
                Ok(())
            } else if meta.path.is_ident("version") {
                let version: syn::LitInt = meta.value()?.parse()?;
                version.base10_parse::<u32>()?;
                if out.version.is_some() {
                    duplicate(cx, &meta.path, "module");
                } else {
                    out.version = Some(version);
                }
                Ok(())
            } else if meta.path.is_ident("migrate") {
                let path: Path = meta.value()?.parse()?;
                if out.migrate.is_some() {
                    duplicate(cx, &meta.path, "module");
                } else {
                    out.migrate = Some(path);
                }
                Ok(())
            } else if meta.path.is_ident("extra_repr") {
                let path: Path = meta.value()?.parse()?;
                if out.extra_repr.is_some() {
                    duplicate(cx, &meta.path, "module");
                } else {
                    out.extra_repr = Some(path);
                }
                Ok(())
            } else if meta.path.is_ident("skip") || meta.path.is_ident("rename") {
                let key = path_name(&meta.path);
                Err(meta.error(format!("`{key}` is a field attribute; put it on a field")))
            } else {
                let key = path_name(&meta.path);
                Err(meta.error(format!("unknown module attribute `{key}`")))
            }
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    out
}

/// Reads a field's `#[module(...)]` and `#[buffer(...)]` attributes.
pub fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        let result = if attr.path().is_ident("module") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    if out.skip.is_some() {
                        duplicate(cx, &meta.path, "module");
                    } else {
                        out.skip = Some(meta.path.clone());
                    }
                    Ok(())
                } else if meta.path.is_ident("rename") {
                    let name: LitStr = meta.value()?.parse()?;
                    if out.rename.is_some() {
                        duplicate(cx, &meta.path, "module");
                    } else {
                        out.rename = Some(name);
                    }
                    Ok(())
                } else if meta.path.is_ident("register_none") {
                    if out.register_none.is_some() {
                        duplicate(cx, &meta.path, "module");
                    } else {
                        out.register_none = Some(meta.path.clone());
                    }
                    Ok(())
                } else if meta.path.is_ident("crate") {
                    Err(meta.error("`crate` is a struct attribute; put it on the struct"))
                } else {
                    let key = path_name(&meta.path);
                    Err(meta.error(format!("unknown module attribute `{key}`")))
                }
            })
        } else if attr.path().is_ident("buffer") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("persistent") {
                    let value: LitBool = meta.value()?.parse()?;
                    if out.persistent.is_some() {
                        duplicate(cx, &meta.path, "buffer");
                    } else {
                        out.persistent = Some((attr.path().clone(), value));
                    }
                    Ok(())
                } else {
                    let key = path_name(&meta.path);
                    Err(meta.error(format!("unknown buffer attribute `{key}`")))
                }
            })
        } else {
            Ok(())
        };
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    out
}
