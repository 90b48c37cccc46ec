//! Dotted-path lookup: `get_submodule`, `get_parameter`, `get_buffer`, `set_submodule`.
//!
//! Paths walk through submodules, collection fields among them (`layers.0.fc`: a `Vec` field is
//! the `ModuleList` it stands for), with PyTorch's errors: ``{Owner} has no attribute `{atom}` ``
//! when an atom is missing (the owner being the module that was searched) and
//! `` `{atom}` is not an nn.Module `` when an atom exists but cannot be walked through.

use crate::module::member::{Attr, AttrMut, Value};
use crate::{Buffer, Error, Module, Parameter, Tensor};

/// Resolves every atom of `target` but the last to a module, then looks the last one up there.
fn resolve<'a, T: Tensor>(root: &'a dyn Module<T>, target: &str) -> Result<Attr<'a, T>, Error> {
    let mut node = root;
    let mut rest = target;
    loop {
        // A byte scan: atoms are short, where `split('.')` pays for a general searcher.
        let (atom, next) = match rest.bytes().position(|b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        let attr = lookup(node, atom)?;
        let Some(next) = next else {
            return Ok(attr);
        };
        node = match attr {
            Attr::Module(Some(m)) => m,
            _ => {
                return Err(Error::NotAModule {
                    name: atom.to_owned(),
                })
            }
        };
        rest = next;
    }
}

/// The attribute `atom` of `node`, or ``{Owner} has no attribute `{atom}` ``.
fn lookup<'a, T: Tensor>(node: &'a dyn Module<T>, atom: &str) -> Result<Attr<'a, T>, Error> {
    node.find_attr(atom).ok_or_else(|| Error::NoAttribute {
        owner: node.type_name().to_owned(),
        name: atom.to_owned(),
    })
}

pub(crate) fn get_submodule<'a, T: Tensor>(
    root: &'a dyn Module<T>,
    target: &str,
) -> Result<&'a dyn Module<T>, Error> {
    if target.is_empty() {
        return Ok(root);
    }
    match resolve(root, target)? {
        Attr::Module(Some(m)) => Ok(m),
        _ => Err(Error::NotAModule {
            name: last_atom(target).to_owned(),
        }),
    }
}

pub(crate) fn get_parameter<'a, T: Tensor>(
    root: &'a dyn Module<T>,
    target: &str,
) -> Result<&'a Parameter<T>, Error> {
    match resolve(root, target)? {
        Attr::Parameter(Some(p)) => Ok(p),
        _ => Err(Error::NotAParameter {
            name: last_atom(target).to_owned(),
        }),
    }
}

pub(crate) fn get_buffer<'a, T: Tensor>(
    root: &'a dyn Module<T>,
    target: &str,
) -> Result<Option<&'a Buffer<T>>, Error> {
    match resolve(root, target)? {
        Attr::Buffer(b) => Ok(b),
        _ => Err(Error::NotABuffer {
            name: last_atom(target).to_owned(),
        }),
    }
}

fn last_atom(target: &str) -> &str {
    target.rsplit('.').next().unwrap_or(target)
}

pub(crate) fn get_submodule_mut<'a, T: Tensor>(
    root: &'a mut dyn Module<T>,
    target: &str,
) -> Result<&'a mut dyn Module<T>, Error> {
    if target.is_empty() {
        return Ok(root);
    }
    // Validate with the shared walk first (it produces the errors), then walk mutably.
    get_submodule(&*root, target)?;
    let mut node = AttrMut::Module(Some(root));
    for atom in target.split('.') {
        node = match node {
            AttrMut::Module(Some(m)) => m.get_attr_mut(atom).ok(),
            _ => None,
        }
        .ok_or_else(|| Error::NoAttribute {
            owner: String::new(),
            name: atom.to_owned(),
        })?;
    }
    node.module().ok_or_else(|| Error::NotAModule {
        name: last_atom(target).to_owned(),
    })
}

pub(crate) fn set_submodule<T: Tensor>(
    root: &mut dyn Module<T>,
    target: &str,
    module: Box<dyn Module<T>>,
    strict: bool,
) -> Result<(), Error> {
    if target.is_empty() {
        return Err(Error::EmptyTarget);
    }
    let (parent_path, last) = match target.rsplit_once('.') {
        Some((parent, last)) => (parent, last),
        None => ("", target),
    };
    let parent = get_submodule_mut(root, parent_path)?;
    match parent.find_attr(last) {
        None if strict => {
            return Err(Error::NoAttribute {
                owner: parent.type_name().to_owned(),
                name: last.to_owned(),
            })
        }
        None | Some(Attr::Module(Some(_))) => {}
        Some(_) => {
            return Err(Error::NotAModule {
                name: last.to_owned(),
            })
        }
    }
    parent.set_attr(last, Value::Module(module))
}
