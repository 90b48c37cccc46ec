//! [`ParamGroups`]: PyTorch's `param_groups`, each a list of parameters with its own
//! hyper-parameters, chosen from a model by name pattern or predicate.

use candle_core::Tensor;

use crate::module::training::selects;
use crate::{Module, Parameter};

/// One parameter group: PyTorch's `optimizer.param_groups[i]`. `options` are the group's
/// hyper-parameters (the optimizer's options type); schedulers change `options.lr`.
#[derive(Clone)]
pub struct ParamGroup<O> {
    /// The group's parameters with the name `named_parameters` gives each (tied ones once).
    pub params: Vec<(String, Parameter<Tensor>)>,
    /// The group's hyper-parameters.
    pub options: O,
}

/// The parameter groups an optimizer is built from: every parameter of a model in one group,
/// then split by pattern or predicate, as PyTorch users build the list of dicts they pass.
///
/// The canonical case, no weight decay on biases and norm weights:
///
/// ```
/// use modcore::nn::{LayerNorm, Linear};
/// use modcore::optim::{AdamW, AdamWOptions, ParamGroups};
/// use modcore::{Module, ModuleCore};
///
/// #[derive(Module)]
/// struct Net { core: ModuleCore, fc: Linear, ln: LayerNorm }
/// let net = Net { core: ModuleCore::new(), fc: Linear::new(4, 4, true)?, ln: LayerNorm::new(4)? };
///
/// let decay = AdamWOptions { lr: 1e-3, weight_decay: 0.1, ..Default::default() };
/// let no_decay = AdamWOptions { weight_decay: 0.0, ..decay.clone() };
/// let groups = ParamGroups::new(&net, decay)
///     .split_by(|name, p| name.ends_with("bias") || p.shape().len() == 1, no_decay);
/// let names: Vec<Vec<&str>> = groups.groups().iter()
///     .map(|g| g.params.iter().map(|(n, _)| n.as_str()).collect()).collect();
/// assert_eq!(names, [vec!["fc.weight"], vec!["fc.bias", "ln.weight", "ln.bias"]]);
/// let optimizer = AdamW::new(groups);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ParamGroups<O> {
    groups: Vec<ParamGroup<O>>,
}

impl<O: Clone> ParamGroups<O> {
    /// Every parameter of `model` in `named_parameters` order (tied parameters once, frozen ones
    /// included: an optimizer skips a parameter without a gradient, as PyTorch's does) in one
    /// group with `options`.
    pub fn new<M: Module<Tensor> + ?Sized>(model: &M, options: O) -> Self {
        let params = model
            .named_parameters()
            .into_iter()
            .map(|(name, p)| (name, p.clone()))
            .collect();
        ParamGroups {
            groups: vec![ParamGroup { params, options }],
        }
    }

    /// Moves the parameters selected by `pattern` (the glob syntax of
    /// [`Module::requires_grad_for`]: matched against each name and the paths of the modules
    /// holding it) out of the earlier groups into a new last group with `options`.
    pub fn split(self, pattern: &str, options: O) -> Self {
        self.split_by(|name, _| selects(pattern, name), options)
    }

    /// Moves the parameters for which `select(name, parameter)` holds out of the earlier groups
    /// into a new last group with `options`.
    pub fn split_by(
        mut self,
        select: impl Fn(&str, &Parameter<Tensor>) -> bool,
        options: O,
    ) -> Self {
        let mut moved = Vec::new();
        for group in &mut self.groups {
            let (take, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut group.params)
                .into_iter()
                .partition(|(name, p)| select(name, p));
            group.params = keep;
            moved.extend(take);
        }
        self.groups.push(ParamGroup {
            params: moved,
            options,
        });
        self
    }

    /// Groups built by hand (PyTorch's list of dicts). A parameter in two groups is refused when
    /// the optimizer is built.
    pub fn from_groups(groups: Vec<ParamGroup<O>>) -> Self {
        ParamGroups { groups }
    }

    /// The groups, in order.
    pub fn groups(&self) -> &[ParamGroup<O>] {
        &self.groups
    }

    /// The groups, to build an optimizer from.
    pub fn into_groups(self) -> Vec<ParamGroup<O>> {
        self.groups
    }
}
