//! The recurrent layers: [`RNN`], [`LSTM`] and [`GRU`], PyTorch's `nn.RNN`, `nn.LSTM` and
//! `nn.GRU` — stacked (`num_layers`), optionally bidirectional, with dropout between layers,
//! LSTM projections (`proj_size`), and PyTorch's flat parameter names (`weight_ih_l0`,
//! `bias_hh_l1_reverse`, `weight_hr_l0`, …) in PyTorch's order, registered at run time as
//! PyTorch's `RNNBase` registers them. Gates are in PyTorch's order: LSTM `i, f, g, o`, GRU
//! `r, z, n`. Packed sequences are not supported: pad and pass lengths through masks instead.

use candle_core::Tensor;

use super::activation::{relu, sigmoid};
use super::dropout::dropout;
use super::linear::linear;
use super::{py_bool, py_float, Factory};
use crate::{Forward, ForwardResult, Module, ModuleCore, Parameter};

/// The cell of a plain [`RNN`]: PyTorch's `nonlinearity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nonlinearity {
    /// `'tanh'` (the default).
    Tanh,
    /// `'relu'`.
    Relu,
}

/// The options of PyTorch's recurrent layers after `input_size` and `hidden_size`, with its
/// defaults.
#[derive(Clone, Debug)]
pub struct RnnConfig {
    /// Stacked layers (1).
    pub num_layers: usize,
    /// `RNN` only: the cell's nonlinearity (tanh).
    pub nonlinearity: Nonlinearity,
    /// `bias_ih_*` and `bias_hh_*` (true).
    pub bias: bool,
    /// Inputs and outputs are `(N, L, H)` (false: `(L, N, H)`); the hidden states are always
    /// `(D * num_layers, N, H)`.
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last, in training (0.0).
    pub dropout: f64,
    /// A second, reversed direction per layer (false).
    pub bidirectional: bool,
    /// `LSTM` only: hidden states projected to this size (0: none).
    pub proj_size: usize,
    /// `device=` and `dtype=`.
    pub factory: Factory,
}

impl Default for RnnConfig {
    fn default() -> Self {
        RnnConfig {
            num_layers: 1,
            nonlinearity: Nonlinearity::Tanh,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
            proj_size: 0,
            factory: Factory::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Rnn(Nonlinearity),
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Rnn(_) => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

/// What `RNNBase` keeps besides its parameters, and each (layer, direction)'s parameter names.
#[derive(Clone, Debug)]
struct Recurrence {
    cell: Cell,
    input_size: usize,
    hidden_size: usize,
    config: RnnConfig,
    /// Per layer and direction: weight_ih, weight_hh, then bias_ih and bias_hh (with bias) and
    /// weight_hr (with proj_size).
    names: Vec<Vec<String>>,
}

impl Recurrence {
    fn new(
        name: &str,
        cell: Cell,
        input_size: usize,
        hidden_size: usize,
        config: &RnnConfig,
    ) -> candle_core::Result<Self> {
        let c = config;
        if c.proj_size > 0 && cell != Cell::Lstm {
            candle_core::bail!("proj_size argument is only supported for LSTM, not RNN or GRU");
        }
        if c.proj_size >= hidden_size && c.proj_size > 0 {
            candle_core::bail!("proj_size has to be smaller than hidden_size");
        }
        if c.nonlinearity != Nonlinearity::Tanh && !matches!(cell, Cell::Rnn(_)) {
            candle_core::bail!("{name}: nonlinearity is an argument of RNN only");
        }
        if !(0.0..=1.0).contains(&c.dropout) {
            candle_core::bail!(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            );
        }
        if hidden_size == 0 || c.num_layers == 0 {
            candle_core::bail!("hidden_size and num_layers must be greater than zero");
        }
        let mut names = vec![];
        for layer in 0..c.num_layers {
            for direction in 0..directions(c) {
                let suffix = if direction == 1 { "_reverse" } else { "" };
                let mut kinds = vec!["weight_ih", "weight_hh"];
                if c.bias {
                    kinds.extend(["bias_ih", "bias_hh"]);
                }
                if c.proj_size > 0 {
                    kinds.push("weight_hr");
                }
                names.push(
                    kinds
                        .iter()
                        .map(|k| format!("{k}_l{layer}{suffix}"))
                        .collect(),
                );
            }
        }
        Ok(Recurrence {
            cell,
            input_size,
            hidden_size,
            config: c.clone(),
            names,
        })
    }

    /// The size of the hidden state `h`: `proj_size` if there is one.
    fn output_size(&self) -> usize {
        match self.config.proj_size {
            0 => self.hidden_size,
            p => p,
        }
    }

    /// The parameters in registration order, uniform in ±1/√hidden_size as `reset_parameters`
    /// draws them.
    fn parameters(&self) -> candle_core::Result<Vec<(String, Parameter<Tensor>)>> {
        let c = &self.config;
        let bound = 1.0 / (self.hidden_size as f64).sqrt();
        let gates = self.cell.gates() * self.hidden_size;
        let d = directions(c);
        let mut out = vec![];
        for (index, names) in self.names.iter().enumerate() {
            let layer = index / d;
            let input = match layer {
                0 => self.input_size,
                _ => self.output_size() * d,
            };
            for name in names {
                let shape = match &name[..9] {
                    "weight_ih" => vec![gates, input],
                    "weight_hh" => vec![gates, self.output_size()],
                    "weight_hr" => vec![c.proj_size, self.hidden_size],
                    _ => vec![gates],
                };
                let tensor = c.factory.uniform(&shape, bound)?;
                out.push((name.clone(), Parameter::new(tensor)));
            }
        }
        Ok(out)
    }

    /// PyTorch's `RNNBase.extra_repr`.
    fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!("{}, {}", self.input_size, self.hidden_size);
        if c.proj_size != 0 {
            s.push_str(&format!(", proj_size={}", c.proj_size));
        }
        if c.num_layers != 1 {
            s.push_str(&format!(", num_layers={}", c.num_layers));
        }
        if !c.bias {
            s.push_str(", bias=False");
        }
        if c.batch_first {
            s.push_str(&format!(", batch_first={}", py_bool(true)));
        }
        if c.dropout != 0.0 {
            s.push_str(&format!(", dropout={}", py_float(c.dropout)));
        }
        if c.bidirectional {
            s.push_str(", bidirectional=True");
        }
        s
    }

    /// Runs every layer and direction over `x` from the initial states (`h0`, and `c0` for an
    /// LSTM, each `(D * num_layers, N, H)` or absent for zeros): the output and the final
    /// states, batched or not and laid out as the caller gave them.
    fn run(
        &self,
        module: &dyn Module<Tensor>,
        x: Tensor,
        h0: Option<Tensor>,
        c0: Option<Tensor>,
    ) -> ForwardResult<(Tensor, Tensor, Option<Tensor>)> {
        let c = &self.config;
        let batched = match x.rank() {
            3 => true,
            2 => false,
            r => {
                return Err(format!(
                    "{}: Expected input to be 2D or 3D, got {r}D instead",
                    module.type_name()
                )
                .into())
            }
        };
        let x = match (batched, c.batch_first) {
            (false, _) => x.unsqueeze(1)?,
            (true, true) => x.transpose(0, 1)?,
            (true, false) => x,
        };
        let (_, n, features) = x.dims3()?;
        if features != self.input_size {
            return Err(format!(
                "input.size(-1) must be equal to input_size. Expected {}, got {features}",
                self.input_size
            )
            .into());
        }
        let states = self.names.len();
        let initial = |given: Option<Tensor>, size: usize| -> ForwardResult<Tensor> {
            let expected = [states, n, size];
            let t = match given {
                None => return Ok(Tensor::zeros(&expected[..], x.dtype(), x.device())?),
                Some(t) if !batched => t.unsqueeze(1)?,
                Some(t) => t,
            };
            if t.dims() != expected {
                return Err(format!(
                    "Expected hidden size ({states}, {n}, {size}), got {:?}",
                    t.dims()
                )
                .into());
            }
            Ok(t)
        };
        let h0 = initial(h0, self.output_size())?;
        let c0 = match self.cell {
            Cell::Lstm => Some(initial(c0, self.hidden_size)?),
            _ => None,
        };

        let d = directions(c);
        let mut input = x;
        let (mut h_n, mut c_n) = (vec![], vec![]);
        for layer in 0..c.num_layers {
            let mut outputs = vec![];
            for direction in 0..d {
                let index = layer * d + direction;
                let weights = self.weights(module, index)?;
                let h = h0.get(index)?;
                let cell_state = c0.as_ref().map(|c0| c0.get(index)).transpose()?;
                let (y, h, cell_state) =
                    self.direction(&weights, &input, h, cell_state, direction == 1)?;
                outputs.push(y);
                h_n.push(h);
                c_n.extend(cell_state);
            }
            input = Tensor::cat(&outputs, 2)?;
            if module.is_training() && c.dropout > 0.0 && layer + 1 < c.num_layers {
                input = dropout(&input, c.dropout)?;
            }
        }
        let output = match (batched, c.batch_first) {
            (false, _) => input.squeeze(1)?,
            (true, true) => input.transpose(0, 1)?,
            (true, false) => input,
        };
        let finish = |states: Vec<Tensor>| -> candle_core::Result<Tensor> {
            let t = Tensor::stack(&states, 0)?;
            if batched {
                Ok(t)
            } else {
                t.squeeze(1)
            }
        };
        let c_n = match self.cell {
            Cell::Lstm => Some(finish(c_n)?),
            _ => None,
        };
        Ok((output, finish(h_n)?, c_n))
    }

    /// The parameters of one layer and direction, looked up by name (so that a replaced or
    /// loaded parameter is the one used).
    fn weights(&self, module: &dyn Module<Tensor>, index: usize) -> ForwardResult<Weights> {
        let get = |kind: &str| -> ForwardResult<Option<Tensor>> {
            match self.names[index].iter().find(|n| n.starts_with(kind)) {
                Some(name) => Ok(Some(module.get_parameter(name)?.tensor())),
                None => Ok(None),
            }
        };
        let required = |kind: &str| -> ForwardResult<Tensor> {
            get(kind)?.ok_or_else(|| format!("no {kind} parameter").into())
        };
        Ok(Weights {
            ih: required("weight_ih")?,
            hh: required("weight_hh")?,
            b_ih: get("bias_ih")?,
            b_hh: get("bias_hh")?,
            hr: get("weight_hr")?,
        })
    }

    /// One direction of one layer over `x` `(L, N, in)`: its outputs `(L, N, H)` in time order
    /// and its final states.
    fn direction(
        &self,
        w: &Weights,
        x: &Tensor,
        mut h: Tensor,
        mut c: Option<Tensor>,
        reverse: bool,
    ) -> ForwardResult<(Tensor, Tensor, Option<Tensor>)> {
        let steps = x.dim(0)?;
        let input_gates = linear(x, &w.ih, w.b_ih.as_ref())?;
        let mut outputs = vec![None; steps];
        let order: Box<dyn Iterator<Item = usize>> = match reverse {
            true => Box::new((0..steps).rev()),
            false => Box::new(0..steps),
        };
        for t in order {
            let gi = input_gates.get(t)?;
            let gh = linear(&h, &w.hh, w.b_hh.as_ref())?;
            h = match self.cell {
                Cell::Rnn(Nonlinearity::Tanh) => (gi + gh)?.tanh()?,
                Cell::Rnn(Nonlinearity::Relu) => relu(&(gi + gh)?)?,
                Cell::Lstm => {
                    let g = (gi + gh)?.chunk(4, 1)?;
                    let (i, f) = (sigmoid(&g[0])?, sigmoid(&g[1])?);
                    let (cell_input, o) = (g[2].tanh()?, sigmoid(&g[3])?);
                    let previous = c.as_ref().ok_or("an LSTM has a cell state")?;
                    let next = ((f * previous)? + (i * cell_input)?)?;
                    let out = (o * next.tanh()?)?;
                    c = Some(next);
                    match &w.hr {
                        Some(hr) => out.matmul(&hr.t()?)?,
                        None => out,
                    }
                }
                Cell::Gru => {
                    let (gi, gh) = (gi.chunk(3, 1)?, gh.chunk(3, 1)?);
                    let r = sigmoid(&(&gi[0] + &gh[0])?)?;
                    let z = sigmoid(&(&gi[1] + &gh[1])?)?;
                    let candidate = (&gi[2] + (r * &gh[2])?)?.tanh()?;
                    // (1 - z) * n + z * h
                    ((z.affine(-1.0, 1.0)? * candidate)? + (z * &h)?)?
                }
            };
            outputs[t] = Some(h.clone());
        }
        let outputs: Vec<Tensor> = outputs.into_iter().flatten().collect();
        let y = match outputs.is_empty() {
            true => Tensor::zeros((0, x.dim(1)?, h.dim(1)?), x.dtype(), x.device())?,
            false => Tensor::stack(&outputs, 0)?,
        };
        Ok((y, h, c))
    }
}

struct Weights {
    ih: Tensor,
    hh: Tensor,
    b_ih: Option<Tensor>,
    b_hh: Option<Tensor>,
    hr: Option<Tensor>,
}

fn directions(config: &RnnConfig) -> usize {
    if config.bidirectional {
        2
    } else {
        1
    }
}

/// Declares a recurrent layer `$name` running `$cell`; the doc comments at the head of the
/// invocation document the struct.
macro_rules! recurrent_layer {
    ($(#[$doc:meta])* $name:ident, $cell:expr) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, tensor = Tensor, extra_repr = $name::describe)]
        pub struct $name {
            core: ModuleCore,
            #[module(skip)]
            recurrence: Recurrence,
        }

        impl $name {
            #[doc = concat!("`nn.", stringify!($name), "(input_size, hidden_size)` with PyTorch's defaults, on the CPU in float32.")]
            pub fn new(input_size: usize, hidden_size: usize) -> candle_core::Result<Self> {
                Self::with_config(input_size, hidden_size, &RnnConfig::default())
            }

            #[doc = concat!("`nn.", stringify!($name), "(input_size, hidden_size, **config)`.")]
            pub fn with_config(
                input_size: usize,
                hidden_size: usize,
                config: &RnnConfig,
            ) -> candle_core::Result<Self> {
                #[allow(clippy::redundant_closure_call)]
                let cell = ($cell)(config);
                let recurrence =
                    Recurrence::new(stringify!($name), cell, input_size, hidden_size, config)?;
                let parameters = recurrence.parameters()?;
                let mut layer = $name {
                    core: ModuleCore::new(),
                    recurrence,
                };
                for (name, p) in parameters {
                    layer
                        .register_parameter(&name, Some(p))
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                }
                Ok(layer)
            }

            fn describe(&self) -> String {
                self.recurrence.describe()
            }
        }
    };
}

recurrent_layer! {
    /// PyTorch's `nn.RNN`: `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)` (or ReLU). Called
    /// with `x` or `(x, h0)`, it returns `(output, h_n)`.
    ///
    /// ```
    /// use modcore::nn::{RnnConfig, RNN};
    /// use modcore::{Module, ModuleHooks};
    /// let rnn = RNN::with_config(3, 4, &RnnConfig { num_layers: 2, ..Default::default() })?;
    /// assert_eq!(rnn.repr(), "RNN(3, 4, num_layers=2)");
    /// let x = candle_core::Tensor::zeros((5, 2, 3), candle_core::DType::F32, &candle_core::Device::Cpu)?;
    /// let (y, h) = rnn.call(x)?;
    /// assert_eq!((y.dims(), h.dims()), (&[5, 2, 4][..], &[2, 2, 4][..]));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    RNN,
    |c: &RnnConfig| Cell::Rnn(c.nonlinearity)
}

recurrent_layer! {
    /// PyTorch's `nn.LSTM`, gates `i, f, g, o`, with `proj_size` projections. Called with `x`
    /// or `(x, (h0, c0))`, it returns `(output, (h_n, c_n))`.
    ///
    /// ```
    /// use modcore::nn::{RnnConfig, LSTM};
    /// use modcore::{Module, ModuleHooks};
    /// let lstm = LSTM::with_config(3, 4, &RnnConfig { bidirectional: true, ..Default::default() })?;
    /// let names: Vec<String> = lstm.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names[..4], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
    /// assert_eq!(names[4], "weight_ih_l0_reverse");
    /// let x = candle_core::Tensor::zeros((5, 2, 3), candle_core::DType::F32, &candle_core::Device::Cpu)?;
    /// let (y, (h, c)) = lstm.call(x)?;
    /// assert_eq!((y.dims(), h.dims(), c.dims()), (&[5, 2, 8][..], &[2, 2, 4][..], &[2, 2, 4][..]));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    LSTM,
    |_: &RnnConfig| Cell::Lstm
}

recurrent_layer! {
    /// PyTorch's `nn.GRU`, gates `r, z, n`: `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
    /// `h' = (1 - z) * n + z * h`. Called with `x` or `(x, h0)`, it returns `(output, h_n)`.
    GRU,
    |_: &RnnConfig| Cell::Gru
}

macro_rules! hidden_state_forward {
    ($($name:ident),*) => {$(
        impl Forward<Tensor, (Tensor, Tensor)> for $name {
            type Output = (Tensor, Tensor);

            fn forward(&self, (x, h0): (Tensor, Tensor)) -> ForwardResult<(Tensor, Tensor)> {
                let (y, h, _) = self.recurrence.run(self, x, Some(h0), None)?;
                Ok((y, h))
            }
        }

        impl Forward<Tensor, Tensor> for $name {
            type Output = (Tensor, Tensor);

            fn forward(&self, x: Tensor) -> ForwardResult<(Tensor, Tensor)> {
                let (y, h, _) = self.recurrence.run(self, x, None, None)?;
                Ok((y, h))
            }
        }
    )*};
}

hidden_state_forward!(RNN, GRU);

impl Forward<Tensor, (Tensor, (Tensor, Tensor))> for LSTM {
    type Output = (Tensor, (Tensor, Tensor));

    fn forward(&self, (x, (h0, c0)): (Tensor, (Tensor, Tensor))) -> ForwardResult<Self::Output> {
        let (y, h, c) = self.recurrence.run(self, x, Some(h0), Some(c0))?;
        Ok((y, (h, c.ok_or("an LSTM has a cell state")?)))
    }
}

impl Forward<Tensor, Tensor> for LSTM {
    type Output = (Tensor, (Tensor, Tensor));

    fn forward(&self, x: Tensor) -> ForwardResult<Self::Output> {
        let (y, h, c) = self.recurrence.run(self, x, None, None)?;
        Ok((y, (h, c.ok_or("an LSTM has a cell state")?)))
    }
}
