//! The names every module has as attributes: no member may take them.

use proc_macro2::TokenStream;
use quote::quote;

/// PyTorch's instance attribute `training` and the `nn.Module` methods: assigning a member under
/// one of them fails in PyTorch (`attribute 'forward' already exists`). The runtime reads this
/// list through [`tokens`] (`modcore::RESERVED_NAMES`), so it is written once.
pub const RESERVED_NAMES: &[&str] = &[
    "training",
    "forward",
    "train",
    "eval",
    "apply",
    "parameters",
    "named_parameters",
    "buffers",
    "named_buffers",
    "children",
    "named_children",
    "modules",
    "named_modules",
    "state_dict",
    "load_state_dict",
    "register_parameter",
    "register_buffer",
    "register_module",
    "add_module",
    "get_submodule",
    "set_submodule",
    "get_parameter",
    "get_buffer",
    "requires_grad_",
    "zero_grad",
    "extra_repr",
];

/// The list as an array expression, for `modcore::RESERVED_NAMES`.
pub fn tokens() -> TokenStream {
    let names = RESERVED_NAMES;
    quote!([#(#names),*])
}
