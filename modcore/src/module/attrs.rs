//! The attribute protocol and run-time registration: PyTorch's `__getattr__`, `__setattr__`,
//! `__delattr__`, `__dir__`, `register_parameter`, `register_buffer` and `add_module`.
//!
//! Names are looked up in the static table first (declared members), then in the run-time
//! registry. The two never share a name: registration refuses a name that is taken by another
//! kind of member, a plain field, or an attribute every module has ([`RESERVED_NAMES`]).
//!
//! Differences from PyTorch, all deliberate:
//! - a declared field keeps its kind and type: assigning a value of another kind fails with
//!   PyTorch's `TypeError` text for that slot, where PyTorch would move the name to another dict;
//! - modcore has no plain attributes at run time: a plain tensor or `None` assigned to an
//!   unknown name is refused ([`Error::Unregistered`]) instead of silently not registered;
//! - `set_attr` validates names like `register_*` does (PyTorch's `setattr` accepts `"a.b"`);
//! - validation happens before anything is removed, so a failed `set_attr` changes nothing.

use crate::hooks::global::{run_buffer_hooks, run_module_hooks, run_parameter_hooks};
use crate::module::member::{Attr, AttrMut, Value};
use crate::module::registry::Registry;
use crate::{AttributeError, Buffer, Error, MemberInfo, MemberKind, Module, Parameter, Tensor};

/// Names every module has as attributes, so no member may take them: PyTorch's instance
/// attribute `training` and the `nn.Module` methods (`register_parameter("forward", …)` raises
/// ``attribute 'forward' already exists``). `#[derive(Module)]` refuses them at compile time
/// (the list lives in `modcore-derive`, which checks it while expanding).
pub const RESERVED_NAMES: &[&str] = &modcore_derive::__reserved_names!();

/// Whether `name` is one of [`RESERVED_NAMES`].
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.contains(&name)
}

/// Where a name lives on a module.
enum Location {
    /// A declared member, with its table row.
    Declared(&'static MemberInfo),
    /// A plain field or a reserved attribute.
    Plain,
    /// A run-time member of this kind.
    Dynamic(MemberKind),
    /// Nowhere.
    Missing,
}

fn locate<T: Tensor>(module: &dyn Module<T>, name: &str) -> Location {
    locate_except(module, name, None)
}

/// [`locate`], reporting a run-time member of kind `replaced` as [`Location::Missing`]:
/// registering a member of that kind inserts into its map, which replaces the old entry in
/// place, so probing that map first would only hash the name twice.
fn locate_except<T: Tensor>(
    module: &dyn Module<T>,
    name: &str,
    replaced: Option<MemberKind>,
) -> Location {
    if let Some(info) = module.declared_info(name) {
        return Location::Declared(info);
    }
    if module.plain_fields().contains(&name) || is_reserved(name) {
        return Location::Plain;
    }
    let registry = module.core().registry::<T>();
    match registry.and_then(|r| r.kind_of(name, replaced)) {
        Some(kind) => Location::Dynamic(kind),
        None => Location::Missing,
    }
}

/// Every name `get_attr` serves: declared members, plain fields, run-time members.
fn attribute_names<T: Tensor>(module: &dyn Module<T>) -> Vec<String> {
    let mut names = module.declared_names();
    names.extend(module.plain_fields().iter().map(|f| (*f).to_owned()));
    if let Some(r) = module.core().registry::<T>() {
        names.extend(r.parameters.keys().map(|k| k.to_string()));
        names.extend(r.buffers.keys().map(|k| k.to_string()));
        names.extend(r.modules.keys().map(|k| k.to_string()));
    }
    names
}

pub(crate) fn attribute_error<T: Tensor>(module: &dyn Module<T>, name: &str) -> AttributeError {
    AttributeError::new(module.type_name(), name, attribute_names(module))
}

/// `getattr` past the declared members: the run-time registries (parameters, buffers,
/// modules), then plain fields and the attributes every module has.
pub(crate) fn find_run_time_attr<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    name: &str,
) -> Option<Attr<'a, T>> {
    if let Some(r) = module.core().registry::<T>() {
        if let Some(p) = r.parameters.get(name) {
            return Some(Attr::Parameter(p.as_ref()));
        }
        if let Some(b) = r.buffers.get(name) {
            return Some(Attr::Buffer(b.as_ref()));
        }
        if let Some(m) = r.modules.get(name) {
            return Some(Attr::Module(m.as_deref()));
        }
    }
    if module.plain_fields().contains(&name) || is_reserved(name) {
        return Some(Attr::Plain);
    }
    None
}

pub(crate) fn get_attr_mut<'a, T: Tensor>(
    module: &'a mut dyn Module<T>,
    name: &str,
) -> Result<AttrMut<'a, T>, AttributeError> {
    let missing = || attribute_error(module, name);
    match locate(module, name) {
        Location::Missing => Err(missing()),
        Location::Plain => Ok(AttrMut::Plain),
        Location::Declared(_) => {
            let error = missing();
            module.declared_attr_mut(name).ok_or(error)
        }
        Location::Dynamic(kind) => {
            let error = missing();
            let registry = module.core_mut().registry_mut::<T>().ok_or(error.clone())?;
            match kind {
                MemberKind::Parameter => registry
                    .parameters
                    .get_mut(name)
                    .map(|p| AttrMut::Parameter(p.as_mut())),
                MemberKind::Buffer => registry
                    .buffers
                    .get_mut(name)
                    .map(|b| AttrMut::Buffer(b.as_mut())),
                MemberKind::Module => registry
                    .modules
                    .get_mut(name)
                    .map(|m| AttrMut::Module(m.as_deref_mut())),
            }
            .ok_or(error)
        }
    }
}

pub(crate) fn has_attr<T: Tensor>(module: &dyn Module<T>, name: &str) -> bool {
    !matches!(locate(module, name), Location::Missing)
}

pub(crate) fn dir<T: Tensor>(module: &dyn Module<T>) -> Vec<String> {
    let mut names = attribute_names(module);
    names.retain(|n| !n.starts_with(|c: char| c.is_ascii_digit()));
    names.sort();
    names.dedup();
    names
}

/// The run-time registry, created if needed.
fn registry<'a, T: Tensor>(
    module: &'a mut dyn Module<T>,
    name: &str,
) -> Result<&'a mut Registry<T>, Error> {
    let owner = module.type_name();
    module
        .core_mut()
        .registry_or_create::<T>()
        .map_err(|held| Error::TensorTypeMismatch {
            owner: owner.to_owned(),
            name: name.to_owned(),
            held,
            requested: std::any::type_name::<T>(),
        })
}

/// Assigns a declared field, turning a type mismatch into `FieldTypeMismatch`.
fn assign_declared<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    info: &MemberInfo,
    value: Value<T>,
) -> Result<(), Error> {
    match module.assign_declared(name, value) {
        Some(Ok(())) => Ok(()),
        Some(Err(found)) => Err(Error::FieldTypeMismatch {
            owner: module.type_name().to_owned(),
            name: name.to_owned(),
            kind: info.kind,
            expected: info.ty.to_owned(),
            value: found,
        }),
        None => Err(attribute_error(module, name).into()),
    }
}

/// A declared member that holds one entry of `kind` (not a collection).
fn single(info: &MemberInfo, kind: MemberKind) -> bool {
    info.kind == kind && !info.collection
}

fn check_name(kind: MemberKind, name: &str) -> Result<(), Error> {
    if name.contains('.') {
        return Err(Error::NameContainsDot {
            kind,
            name: name.to_owned(),
        });
    }
    if name.is_empty() {
        return Err(Error::EmptyName { kind });
    }
    Ok(())
}

fn already_exists(name: &str) -> Error {
    Error::AlreadyExists {
        name: name.to_owned(),
    }
}

pub(crate) fn register_parameter<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    param: Option<Parameter<T>>,
) -> Result<(), Error> {
    check_name(MemberKind::Parameter, name)?;
    match locate_except(module, name, Some(MemberKind::Parameter)) {
        Location::Declared(info) if single(info, MemberKind::Parameter) => {
            let value = match param {
                None => Value::None,
                Some(p) => Value::Parameter(run_parameter_hooks(module, name, p)),
            };
            assign_declared(module, name, info, value)
        }
        Location::Missing => {
            let param = param.map(|p| run_parameter_hooks(module, name, p));
            registry(module, name)?
                .parameters
                .insert(name.into(), param);
            Ok(())
        }
        _ => Err(already_exists(name)),
    }
}

pub(crate) fn register_buffer<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    buffer: Option<Buffer<T>>,
    persistent: bool,
) -> Result<(), Error> {
    check_name(MemberKind::Buffer, name)?;
    match locate_except(module, name, Some(MemberKind::Buffer)) {
        Location::Declared(info) if single(info, MemberKind::Buffer) => {
            if info.persistent != persistent {
                return Err(Error::PersistenceMismatch {
                    owner: module.type_name().to_owned(),
                    name: name.to_owned(),
                    declared: info.persistent,
                    requested: persistent,
                });
            }
            let value = match run_buffer_hooks(module, name, buffer) {
                None => Value::None,
                Some(buffer) => Value::Buffer { buffer, persistent },
            };
            assign_declared(module, name, info, value)
        }
        Location::Missing => {
            let buffer = run_buffer_hooks(module, name, buffer);
            let registry = registry(module, name)?;
            registry.buffers.insert(name.into(), buffer);
            if persistent {
                if !registry.non_persistent.is_empty() {
                    registry.non_persistent.remove(name);
                }
            } else {
                registry.non_persistent.insert(name.into());
            }
            Ok(())
        }
        _ => Err(already_exists(name)),
    }
}

pub(crate) fn register_module<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    child: Option<Box<dyn Module<T>>>,
) -> Result<(), Error> {
    // PyTorch checks for an existing attribute before it looks at the name's characters.
    let location = locate_except(module, name, Some(MemberKind::Module));
    match location {
        Location::Declared(info) if single(info, MemberKind::Module) => {}
        Location::Missing => {}
        _ => return Err(already_exists(name)),
    }
    check_name(MemberKind::Module, name)?;
    let child = run_module_hooks(module, name, child);
    match location {
        Location::Declared(info) => {
            let value = child.map_or(Value::None, Value::Module);
            assign_declared(module, name, info, value)
        }
        _ => {
            registry(module, name)?.modules.insert(name.into(), child);
            Ok(())
        }
    }
}

pub(crate) fn set_attr<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    value: Value<T>,
) -> Result<(), Error> {
    match locate(module, name) {
        Location::Declared(info) => set_declared(module, name, info, value),
        Location::Plain => Err(already_exists(name)),
        Location::Dynamic(kind) => set_dynamic(module, name, Some(kind), value),
        Location::Missing => set_dynamic(module, name, None, value),
    }
}

/// `__setattr__` on a declared field: the value must be of the field's kind and type.
fn set_declared<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    info: &'static MemberInfo,
    value: Value<T>,
) -> Result<(), Error> {
    let wrong_kind = |value: &Value<T>| match info.kind {
        MemberKind::Parameter => Error::NotAParameterValue {
            name: name.to_owned(),
            value: value.type_name(),
        },
        MemberKind::Module => Error::NotAModuleValue {
            name: name.to_owned(),
            value: value.type_name(),
        },
        MemberKind::Buffer => Error::FieldTypeMismatch {
            owner: module.type_name().to_owned(),
            name: name.to_owned(),
            kind: info.kind,
            expected: info.ty.to_owned(),
            value: value.type_name(),
        },
    };
    if info.collection {
        let error = Error::FieldTypeMismatch {
            owner: module.type_name().to_owned(),
            name: name.to_owned(),
            kind: info.kind,
            expected: info.ty.to_owned(),
            value: value.type_name(),
        };
        return Err(error);
    }
    let value = match (info.kind, value) {
        (MemberKind::Parameter, Value::Parameter(p)) => {
            Value::Parameter(run_parameter_hooks(module, name, p))
        }
        (MemberKind::Parameter, Value::None) => Value::None,
        (MemberKind::Buffer, Value::Buffer { buffer, persistent }) => {
            if persistent != info.persistent {
                return Err(Error::PersistenceMismatch {
                    owner: module.type_name().to_owned(),
                    name: name.to_owned(),
                    declared: info.persistent,
                    requested: persistent,
                });
            }
            buffer_value(run_buffer_hooks(module, name, Some(buffer)), persistent)
        }
        (MemberKind::Buffer, Value::Tensor(t)) => buffer_value(
            run_buffer_hooks(module, name, Some(Buffer::new(t))),
            info.persistent,
        ),
        (MemberKind::Buffer, Value::None) => {
            buffer_value(run_buffer_hooks(module, name, None), info.persistent)
        }
        (MemberKind::Module, Value::Module(m)) => {
            run_module_hooks(module, name, Some(m)).map_or(Value::None, Value::Module)
        }
        (MemberKind::Module, Value::None) => {
            run_module_hooks(module, name, None).map_or(Value::None, Value::Module)
        }
        (_, value) => return Err(wrong_kind(&value)),
    };
    assign_declared(module, name, info, value)
}

fn buffer_value<T: Tensor>(buffer: Option<Buffer<T>>, persistent: bool) -> Value<T> {
    match buffer {
        None => Value::None,
        Some(buffer) => Value::Buffer { buffer, persistent },
    }
}

/// `__setattr__` on a run-time name (`current` is its kind, if it exists), in PyTorch's order.
fn set_dynamic<T: Tensor>(
    module: &mut dyn Module<T>,
    name: &str,
    current: Option<MemberKind>,
    value: Value<T>,
) -> Result<(), Error> {
    let not_a_parameter = |value: &Value<T>| Error::NotAParameterValue {
        name: name.to_owned(),
        value: value.type_name(),
    };
    let not_a_module = |value: &Value<T>| Error::NotAModuleValue {
        name: name.to_owned(),
        value: value.type_name(),
    };
    let unregistered = |module: &dyn Module<T>, value: &'static str| Error::Unregistered {
        owner: module.type_name().to_owned(),
        name: name.to_owned(),
        value,
    };
    let keep_persistence = |module: &dyn Module<T>| {
        module
            .core()
            .registry::<T>()
            .is_none_or(|r| !r.non_persistent.contains(name))
    };
    match (value, current) {
        (Value::Parameter(p), _) => {
            check_name(MemberKind::Parameter, name)?;
            let p = run_parameter_hooks(module, name, p);
            let registry = registry(module, name)?;
            registry.buffers.shift_remove(name);
            registry.modules.shift_remove(name);
            registry.non_persistent.remove(name);
            registry.parameters.insert(name.into(), Some(p));
            Ok(())
        }
        (Value::None, Some(MemberKind::Parameter)) => register_parameter(module, name, None),
        (Value::None, Some(MemberKind::Module)) => register_module(module, name, None),
        (Value::None, Some(MemberKind::Buffer)) => {
            let persistent = keep_persistence(module);
            register_buffer(module, name, None, persistent)
        }
        (Value::None, None) => Err(unregistered(module, "None")),
        (value, Some(MemberKind::Parameter)) => Err(not_a_parameter(&value)),
        (Value::Module(m), _) => {
            check_name(MemberKind::Module, name)?;
            let m = run_module_hooks(module, name, Some(m));
            let registry = registry(module, name)?;
            registry.buffers.shift_remove(name);
            registry.non_persistent.remove(name);
            registry.modules.insert(name.into(), m);
            Ok(())
        }
        (value, Some(MemberKind::Module)) => Err(not_a_module(&value)),
        (Value::Buffer { buffer, persistent }, _) => {
            register_buffer(module, name, Some(buffer), persistent)
        }
        (Value::Tensor(t), Some(MemberKind::Buffer)) => {
            let persistent = keep_persistence(module);
            register_buffer(module, name, Some(Buffer::new(t)), persistent)
        }
        (Value::Tensor(_), None) => Err(unregistered(module, "a plain tensor")),
    }
}

pub(crate) fn del_attr<T: Tensor>(module: &mut dyn Module<T>, name: &str) -> Result<(), Error> {
    match locate(module, name) {
        Location::Missing => Err(attribute_error(module, name).into()),
        Location::Declared(_) | Location::Plain => Err(Error::DeleteDeclared {
            owner: module.type_name().to_owned(),
            name: name.to_owned(),
        }),
        Location::Dynamic(kind) => {
            let registry = registry(module, name)?;
            match kind {
                MemberKind::Parameter => {
                    registry.parameters.shift_remove(name);
                }
                MemberKind::Buffer => {
                    registry.buffers.shift_remove(name);
                    registry.non_persistent.remove(name);
                }
                MemberKind::Module => {
                    registry.modules.shift_remove(name);
                }
            }
            Ok(())
        }
    }
}
