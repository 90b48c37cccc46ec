//! Errors, with PyTorch's messages.
//!
//! Every error's `Display` is the message PyTorch raises in the same situation, so text found
//! in PyTorch's issues and docs matches. Where the Python type of the exception is part of the
//! contract, [`Error::python_type`] tells it.

use std::fmt;

use crate::MemberKind;

/// PyTorch's `AttributeError`: a name that is neither a member nor a field of the module.
///
/// The text is PyTorch's, plus Python's own "Did you mean" hint when a member with a close
/// name exists (PyTorch cannot offer one for members, because they are not real attributes).
///
/// ```
/// use modcore::AttributeError;
/// let e = AttributeError::new("Net", "fc3", ["fc1", "fc2", "proj"]);
/// assert_eq!(e.to_string(), "'Net' object has no attribute 'fc3'. Did you mean: 'fc1'?");
/// let e = AttributeError::new("Net", "zzz", ["fc1"]);
/// assert_eq!(e.to_string(), "'Net' object has no attribute 'zzz'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeError {
    /// The unqualified type name of the module (`Net`).
    pub type_name: String,
    /// The name that was looked up.
    pub name: String,
    /// The closest existing name, if one is close enough to be a likely typo.
    pub suggestion: Option<String>,
}

impl AttributeError {
    /// An error for `name` on a `type_name` module whose existing names are `candidates`.
    pub fn new<I, S>(type_name: &str, name: &str, candidates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        AttributeError {
            type_name: type_name.to_owned(),
            name: name.to_owned(),
            suggestion: closest(name, candidates),
        }
    }
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' object has no attribute '{}'",
            self.type_name, self.name
        )?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, ". Did you mean: '{suggestion}'?")?;
        }
        Ok(())
    }
}

impl std::error::Error for AttributeError {}

/// CPython's suggestion for a missing attribute (`Python/suggestions.c`): the candidate with the
/// smallest weighted Levenshtein distance (2 per edit, 1 for a case change) within a third of
/// the characters involved, `(len(name) + len(candidate) + 3) * 2 / 6`, over the candidates in
/// sorted order as `dir()` lists them, the first of equally close ones winning. As in CPython,
/// names are compared as UTF-8 bytes, more than 750 candidates give no suggestion, and a
/// difference of more than 40 bytes after trimming common affixes is never close.
fn closest<I, S>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    const MAX_CANDIDATE_ITEMS: usize = 750;
    let mut sorted: Vec<S> = candidates.into_iter().collect();
    if sorted.len() > MAX_CANDIDATE_ITEMS {
        return None;
    }
    sorted.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    let mut best: Option<(usize, &str)> = None;
    for candidate in &sorted {
        let candidate = candidate.as_ref();
        if candidate == name {
            continue;
        }
        let limit = (name.len() + candidate.len() + 3) * MOVE_COST / 6;
        let limit = best.map_or(limit, |(d, _)| limit.min(d.saturating_sub(1)));
        let distance = levenshtein(name.as_bytes(), candidate.as_bytes(), limit);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate.to_owned())
}

/// The cost of an insertion, deletion or substitution in CPython's distance.
const MOVE_COST: usize = 2;

/// CPython's `substitution_cost`: 0 for equal bytes, 1 for a case change, 2 otherwise.
fn substitution_cost(a: u8, b: u8) -> usize {
    if a == b {
        0
    } else if a.eq_ignore_ascii_case(&b) {
        1
    } else {
        MOVE_COST
    }
}

/// CPython's `levenshtein_distance`, which gives up (returning more than `limit`) as soon as the
/// distance must exceed `limit`.
fn levenshtein(a: &[u8], b: &[u8], limit: usize) -> usize {
    const MAX_STRING_SIZE: usize = 40;
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    if a.is_empty() || b.is_empty() {
        return (a.len() + b.len()) * MOVE_COST;
    }
    if a.len() > MAX_STRING_SIZE || b.len() > MAX_STRING_SIZE {
        return limit + 1;
    }
    let (a, b) = if b.len() < a.len() { (b, a) } else { (a, b) };
    if (b.len() - a.len()) * MOVE_COST > limit {
        return limit + 1;
    }
    let mut row: Vec<usize> = (1..=a.len()).map(|i| i * MOVE_COST).collect();
    let mut result = 0;
    for (j, &code) in b.iter().enumerate() {
        let mut distance = j * MOVE_COST;
        result = distance;
        let mut minimum = usize::MAX;
        for (i, &byte) in a.iter().enumerate() {
            let substitute = distance + substitution_cost(code, byte);
            distance = row[i];
            let insert_delete = result.min(distance) + MOVE_COST;
            result = insert_delete.min(substitute);
            row[i] = result;
            minimum = minimum.min(result);
        }
        if minimum > limit {
            return limit + 1;
        }
    }
    result
}

/// The Python exception type PyTorch raises for an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PythonType {
    /// `AttributeError`
    AttributeError,
    /// `KeyError`
    KeyError,
    /// `TypeError`
    TypeError,
    /// `ValueError`
    ValueError,
    /// `IndexError`
    IndexError,
    /// `RuntimeError`
    RuntimeError,
}

/// Everything that can go wrong when registering, assigning, deleting or looking up members.
///
/// A failed operation leaves the module as it was.
///
/// ```
/// use modcore::{Error, MemberKind, PythonType};
/// let e = Error::NameContainsDot { kind: MemberKind::Module, name: "a.b".into() };
/// assert_eq!(e.to_string(), r#"module name can't contain ".", got: a.b"#);
/// assert_eq!(e.python_type(), PythonType::KeyError);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No member, field or run-time entry has this name.
    #[error(transparent)]
    Attribute(#[from] AttributeError),

    /// A registration name with a `.` in it.
    #[error("{}", dot_message(*kind, name))]
    NameContainsDot {
        /// What was being registered.
        kind: MemberKind,
        /// The rejected name.
        name: String,
    },

    /// A registration with the empty name.
    #[error("{kind} name can't be empty string \"\"")]
    EmptyName {
        /// What was being registered.
        kind: MemberKind,
    },

    /// The name is already taken by a member of another kind, a field or a module method.
    #[error("attribute '{name}' already exists")]
    AlreadyExists {
        /// The taken name.
        name: String,
    },

    /// Something other than a parameter assigned to a parameter's name.
    #[error("cannot assign '{value}' as parameter '{name}' (torch.nn.Parameter or None expected)")]
    NotAParameterValue {
        /// The parameter's name.
        name: String,
        /// The type name of the value.
        value: String,
    },

    /// Something other than a module assigned to a submodule's name.
    #[error("cannot assign '{value}' as child module '{name}' (torch.nn.Module or None expected)")]
    NotAModuleValue {
        /// The submodule's name.
        name: String,
        /// The type name of the value.
        value: String,
    },

    /// A value of the wrong type assigned to a declared field.
    #[error("cannot assign '{value}' to {kind} '{name}' of '{owner}' ({expected} expected)")]
    FieldTypeMismatch {
        /// The module type.
        owner: String,
        /// The member's name.
        name: String,
        /// The member's kind.
        kind: MemberKind,
        /// The field's declared type.
        expected: String,
        /// The type name of the rejected value.
        value: String,
    },

    /// A declared buffer's persistence is fixed by its `#[buffer(persistent = …)]` attribute.
    #[error("buffer '{name}' of '{owner}' is declared with persistent = {declared}; it cannot be registered with persistent = {requested}")]
    PersistenceMismatch {
        /// The module type.
        owner: String,
        /// The buffer's name.
        name: String,
        /// The declared persistence.
        declared: bool,
        /// The requested persistence.
        requested: bool,
    },

    /// A value that would not be registered: a plain tensor or `None` for an unknown name.
    /// (PyTorch stores it as a plain, unregistered attribute; modcore has no such attributes.)
    #[error("cannot assign {value} to '{name}' of '{owner}': it is not a registered member; use register_buffer, register_parameter or register_module")]
    Unregistered {
        /// The module type.
        owner: String,
        /// The name.
        name: String,
        /// What was assigned (`a plain tensor`, `None`).
        value: &'static str,
    },

    /// Declared fields cannot be deleted.
    #[error("cannot delete '{name}' of '{owner}': it is a declared field")]
    DeleteDeclared {
        /// The module type.
        owner: String,
        /// The field's member name.
        name: String,
    },

    /// `get_submodule` and friends: a path atom that does not exist.
    #[error("{owner} has no attribute `{name}`")]
    NoAttribute {
        /// The type name of the module being searched.
        owner: String,
        /// The missing atom.
        name: String,
    },

    /// A path atom that exists but is not a module.
    #[error("`{name}` is not an nn.Module")]
    NotAModule {
        /// The atom.
        name: String,
    },

    /// `get_parameter` on something that is not a parameter.
    #[error("`{name}` is not an nn.Parameter")]
    NotAParameter {
        /// The atom.
        name: String,
    },

    /// `get_buffer` on something that is not a buffer.
    #[error("`{name}` is not a buffer")]
    NotABuffer {
        /// The atom.
        name: String,
    },

    /// `set_submodule("")`.
    #[error("Cannot set the submodule without a target name!")]
    EmptyTarget,

    /// A module already holds run-time members of another tensor type.
    #[error("'{owner}' already holds run-time members of tensor type {}; cannot register '{name}' of tensor type {}", short_type_name(held), short_type_name(requested))]
    TensorTypeMismatch {
        /// The module type.
        owner: String,
        /// The name being registered.
        name: String,
        /// The tensor type already held.
        held: &'static str,
        /// The tensor type requested.
        requested: &'static str,
    },

    /// A container index outside `-len..len`.
    #[error("index {index} is out of range")]
    IndexOutOfRange {
        /// The index.
        index: isize,
    },

    /// An insertion index outside `-len..=len`.
    #[error("Index out of range: {index}")]
    InsertOutOfRange {
        /// The index.
        index: isize,
    },

    /// A container key that is not there (Python's `KeyError: 'key'`).
    #[error("'{key}'")]
    KeyNotFound {
        /// The key.
        key: String,
    },

    /// A legacy and a full backward hook on the same module (or both as global hooks).
    #[error("Cannot use both regular backward hooks and full backward hooks {scope}. Please use only one of them.")]
    MixedBackwardHooks {
        /// `on a single Module` or `as a global Module hook`.
        scope: &'static str,
    },
}

fn dot_message(kind: MemberKind, name: &str) -> String {
    match kind {
        MemberKind::Module => format!("module name can't contain \".\", got: {name}"),
        other => format!("{other} name can't contain \".\""),
    }
}

impl Error {
    /// The Python exception type PyTorch raises for this error.
    pub fn python_type(&self) -> PythonType {
        match self {
            Error::Attribute(_)
            | Error::NoAttribute { .. }
            | Error::NotAModule { .. }
            | Error::NotAParameter { .. }
            | Error::NotABuffer { .. }
            | Error::Unregistered { .. }
            | Error::DeleteDeclared { .. } => PythonType::AttributeError,
            Error::NameContainsDot { .. }
            | Error::EmptyName { .. }
            | Error::AlreadyExists { .. } => PythonType::KeyError,
            Error::NotAParameterValue { .. }
            | Error::NotAModuleValue { .. }
            | Error::FieldTypeMismatch { .. }
            | Error::PersistenceMismatch { .. }
            | Error::TensorTypeMismatch { .. } => PythonType::TypeError,
            Error::EmptyTarget => PythonType::ValueError,
            Error::IndexOutOfRange { .. } | Error::InsertOutOfRange { .. } => {
                PythonType::IndexError
            }
            Error::KeyNotFound { .. } => PythonType::KeyError,
            Error::MixedBackwardHooks { .. } => PythonType::RuntimeError,
        }
    }
}

/// A Rust type name as error messages show it: every path dropped, as PyTorch shows a class
/// name (`Parameter<Tensor>` for `modcore::tensor::parameter::Parameter<candle_core::Tensor>`).
///
/// Every type in a modcore message follows this one convention: the class name, without the
/// module path (PyTorch's `TypeError`s show `torch.typename`, whose paths are Python's, which a
/// Rust program does not have).
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            continue;
        }
        out.push_str(last_path_segment(&full[segment_start..i]));
        out.push(c);
        segment_start = i + c.len_utf8();
    }
    out.push_str(last_path_segment(&full[segment_start..]));
    out
}

fn last_path_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_drop_their_paths() {
        assert_eq!(
            short_type_name("modcore::tensor::parameter::Parameter<candle_core::tensor::Tensor>"),
            "Parameter<Tensor>"
        );
        assert_eq!(
            short_type_name("(f64, alloc::vec::Vec<u8>)"),
            "(f64, Vec<u8>)"
        );
        assert_eq!(short_type_name("semantics::Lin"), "Lin");
        assert_eq!(short_type_name("f32"), "f32");
    }

    /// Expectations from CPython 3.11's `AttributeError` suggestions (`obj.<name>` on an object
    /// whose `dir()` holds the candidates), printed by `tests/fixtures/make_suggestions.py`.
    #[test]
    fn suggestions_follow_cpythons_rule() {
        assert_eq!(closest("fc", ["fc1", "fc2"]), Some("fc1".to_owned()));
        assert_eq!(closest("linear", ["conv"]), None);
        assert_eq!(closest("bf", ["buf", "b"]), Some("b".to_owned()));
        assert_eq!(closest("x", ["fc", "bias"]), None);
        assert_eq!(
            closest("Weight", ["weight", "height"]),
            Some("weight".to_owned())
        );
        assert_eq!(closest("weigth", ["weight"]), Some("weight".to_owned()));
    }

    #[test]
    fn distance_weighs_edits_two_and_case_one() {
        assert_eq!(levenshtein(b"weight", b"Weight", 10), 1);
        assert_eq!(levenshtein(b"weigth", b"weight", 10), 4);
        assert_eq!(levenshtein(b"bias", b"bia", 10), 2);
        assert_eq!(levenshtein(b"", b"abc", 10), 6);
    }
}
