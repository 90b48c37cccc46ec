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

/// The closest candidate within Python's typo budget: an edit distance of at most a third of
/// the name's length (at least 1). The first of equally close candidates wins.
fn closest<I, S>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let budget = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, String)> = None;
    for candidate in candidates {
        let candidate = candidate.as_ref();
        if candidate == name {
            continue;
        }
        let distance = edit_distance(name, candidate);
        if distance <= budget && best.as_ref().is_none_or(|(d, _)| distance < *d) {
            best = Some((distance, candidate.to_owned()));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
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
    #[error("'{owner}' already holds run-time members of tensor type {held}; cannot register '{name}' of tensor type {requested}")]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("weight", "weight"), 0);
        assert_eq!(edit_distance("weigth", "weight"), 2);
        assert_eq!(edit_distance("bias", "bia"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_respects_the_typo_budget() {
        assert_eq!(closest("fc", ["fc1", "fc2"]), Some("fc1".to_owned()));
        assert_eq!(closest("linear", ["conv"]), None);
    }
}
