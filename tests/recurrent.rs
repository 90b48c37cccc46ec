//! RNN, LSTM and GRU against PyTorch (`tests/fixtures/make_recurrent.py`): outputs, final
//! states, input and parameter gradients, PyTorch's flat parameter names and prints.

mod common;
use common::Fixture;

use candle_core::Tensor;
use modcore::nn::{Nonlinearity, RnnConfig, GRU, LSTM, RNN};
use modcore::{Module, ModuleHooks};

fn config(f: impl FnOnce(&mut RnnConfig)) -> RnnConfig {
    let mut c = RnnConfig::default();
    f(&mut c);
    c
}

/// `(output, h_n)` of an RNN or GRU called with `x` or `(x, h0)`.
fn with_hidden<M>(m: &M, x: &[Tensor]) -> Vec<Tensor>
where
    M: ModuleHooks<Tensor>
        + modcore::Forward<Tensor, Tensor, Output = (Tensor, Tensor)>
        + modcore::Forward<Tensor, (Tensor, Tensor), Output = (Tensor, Tensor)>,
{
    let (y, h) = match x {
        [x] => m.call(x.clone()).unwrap(),
        [x, h0] => m.call((x.clone(), h0.clone())).unwrap(),
        _ => unreachable!(),
    };
    vec![y, h]
}

fn lstm_call(m: &LSTM, x: &[Tensor]) -> Vec<Tensor> {
    let (y, (h, c)) = match x {
        [x] => m.call(x.clone()).unwrap(),
        [x, h0, c0] => m.call((x.clone(), (h0.clone(), c0.clone()))).unwrap(),
        _ => unreachable!(),
    };
    vec![y, h, c]
}

#[test]
fn rnns_match_pytorch_with_gradients() {
    let f = Fixture::load("recurrent");
    f.check_call("rnn", RNN::new(3, 4).unwrap(), with_hidden);
    let c = config(|c| {
        c.num_layers = 2;
        c.nonlinearity = Nonlinearity::Relu;
        c.bidirectional = true;
    });
    let rnn = RNN::with_config(3, 4, &c).unwrap();
    f.check_call("rnn_relu_two_layers_bidirectional", rnn, with_hidden);
}

#[test]
fn lstms_match_pytorch_with_gradients() {
    let f = Fixture::load("recurrent");
    f.check_call("lstm", LSTM::new(3, 5).unwrap(), lstm_call);
    f.check_call("lstm_unbatched", LSTM::new(3, 4).unwrap(), lstm_call);
    let c = config(|c| {
        c.num_layers = 2;
        c.batch_first = true;
        c.bidirectional = true;
        c.proj_size = 2;
    });
    let lstm = LSTM::with_config(3, 5, &c).unwrap();
    f.check_call("lstm_proj_bidirectional_batch_first", lstm, lstm_call);
}

#[test]
fn grus_match_pytorch_with_gradients() {
    let f = Fixture::load("recurrent");
    let c = config(|c| {
        c.num_layers = 2;
        c.bias = false;
    });
    f.check_call(
        "gru_no_bias",
        GRU::with_config(3, 4, &c).unwrap(),
        with_hidden,
    );
    let c = config(|c| {
        c.batch_first = true;
        c.bidirectional = true;
    });
    let gru = GRU::with_config(3, 4, &c).unwrap();
    f.check_call("gru_bidirectional_batch_first", gru, with_hidden);
    let c = config(|c| {
        c.num_layers = 2;
        c.dropout = 0.5;
    });
    let mut gru = GRU::with_config(3, 4, &c).unwrap();
    gru.eval();
    f.check_call("gru_dropout_eval", gru, with_hidden);
}

#[test]
fn parameters_are_pytorchs_names_shapes_and_bounds() {
    let c = config(|c| {
        c.num_layers = 2;
        c.bidirectional = true;
        c.proj_size = 2;
    });
    let lstm = LSTM::with_config(3, 4, &c).unwrap();
    let shapes: Vec<(String, Vec<usize>)> = lstm
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape()))
        .collect();
    let expected = [
        ("weight_ih_l0", vec![16, 3]),
        ("weight_hh_l0", vec![16, 2]),
        ("bias_ih_l0", vec![16]),
        ("bias_hh_l0", vec![16]),
        ("weight_hr_l0", vec![2, 4]),
        ("weight_ih_l0_reverse", vec![16, 3]),
        ("weight_hh_l0_reverse", vec![16, 2]),
        ("bias_ih_l0_reverse", vec![16]),
        ("bias_hh_l0_reverse", vec![16]),
        ("weight_hr_l0_reverse", vec![2, 4]),
        ("weight_ih_l1", vec![16, 4]),
        ("weight_hh_l1", vec![16, 2]),
        ("bias_ih_l1", vec![16]),
        ("bias_hh_l1", vec![16]),
        ("weight_hr_l1", vec![2, 4]),
        ("weight_ih_l1_reverse", vec![16, 4]),
        ("weight_hh_l1_reverse", vec![16, 2]),
        ("bias_ih_l1_reverse", vec![16]),
        ("bias_hh_l1_reverse", vec![16]),
        ("weight_hr_l1_reverse", vec![2, 4]),
    ];
    let expected: Vec<(String, Vec<usize>)> = expected
        .into_iter()
        .map(|(n, s)| (n.to_owned(), s))
        .collect();
    assert_eq!(shapes, expected);
    // uniform in ±1/sqrt(hidden_size)
    for (name, p) in lstm.named_parameters() {
        assert!(common::max_abs(&p.tensor()) <= 0.5, "{name}");
    }
    let gru = GRU::new(2, 100).unwrap();
    let largest = common::max_abs(&gru.get_parameter("weight_hh_l0").unwrap().tensor());
    assert!(largest <= 0.1 && largest > 0.09);
}

#[test]
fn misuse_is_refused_in_pytorchs_words() {
    let e = GRU::with_config(3, 4, &config(|c| c.proj_size = 2))
        .err()
        .unwrap();
    assert!(e
        .to_string()
        .starts_with("proj_size argument is only supported for LSTM, not RNN or GRU"));
    let e = LSTM::with_config(3, 4, &config(|c| c.proj_size = 4))
        .err()
        .unwrap();
    assert!(e
        .to_string()
        .starts_with("proj_size has to be smaller than hidden_size"));
    let lstm = LSTM::new(3, 4).unwrap();
    let x = Tensor::zeros(
        (5, 2, 6),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let e = lstm.call(x).err().unwrap();
    assert_eq!(
        e.to_string(),
        "input.size(-1) must be equal to input_size. Expected 3, got 6"
    );
    let x = Tensor::zeros(
        (5, 2, 3),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let h0 = Tensor::zeros(
        (1, 3, 4),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let e = GRU::new(3, 4).unwrap().call((x, h0)).err().unwrap();
    assert_eq!(
        e.to_string(),
        "Expected hidden size (1, 2, 4), got [1, 3, 4]"
    );
}

#[test]
fn run_time_registered_weights_follow_conversion_and_loading() {
    let mut lstm = LSTM::new(3, 4).unwrap();
    lstm.double().unwrap();
    let x = Tensor::zeros(
        (5, 2, 3),
        candle_core::DType::F64,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let (y, _) = lstm.call(x.clone()).unwrap();
    assert_eq!(y.dtype(), candle_core::DType::F64);
    // Loading replaces what forward reads: zero weights and biases give zero states.
    let zeros: modcore::StateDict<Tensor> = lstm
        .state_dict()
        .into_iter()
        .map(|(k, v)| (k, v.zeros_like().unwrap()))
        .collect();
    lstm.load_state_dict(&zeros, true, false).unwrap();
    let (y, _) = lstm.call(x).unwrap();
    assert_eq!(common::max_abs(&y), 0.0);
}
