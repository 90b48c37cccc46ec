//! A pickle reader with PyTorch's `weights_only=True` semantics, for `torch.save` files.
//!
//! It interprets the opcodes of pickle protocols 2 to 5 into plain data: `None`, booleans,
//! integers, floats, strings, bytes, lists, tuples, dicts, and the tensors and storages of
//! `torch.save`. It never calls anything: the few globals PyTorch's weights-only unpickler
//! allows (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, the storage classes, …)
//! are recognised by name and their effect is built in; any other global is refused by name
//! before anything else happens, so a `__reduce__` payload has nothing to run.
//!
//! Hostile input costs at most linear work: containers live in an arena and are shared by
//! index (a memo reference copies nothing), strings are reference-counted, and every count and
//! index is checked.

use std::collections::HashMap;
use std::rc::Rc;

use indexmap::IndexMap;

use crate::DType;

/// Why a pickle could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PickleError {
    /// A global that weights-only loading does not allow.
    Global(String),
    /// Anything else, at a byte offset.
    Format { offset: usize, message: String },
}

/// A dict key: PyTorch checkpoints key dicts by strings and integers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Str(Rc<str>),
    Int(i64),
    Bool(bool),
    None,
}

/// A value of the pickle. Containers are indices into [`Pickle::containers`].
#[derive(Clone, Debug)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    /// A list (or set) or tuple.
    Seq(usize),
    Dict(usize),
    Tensor(Rc<TensorRef>),
    Storage(Rc<StorageRef>),
    Global(Global),
}

/// A container of the arena.
#[derive(Debug)]
pub(crate) enum Container {
    Seq(Vec<Value>),
    Dict(IndexMap<Key, Value>),
}

/// The globals weights-only loading allows, and what they stand for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromType,
    /// `torch.Tensor` or `torch.nn.Parameter` as the type `_rebuild_from_type_v2` restores.
    TensorType,
    Size,
    Set,
    Encode,
    Device,
    /// A storage class (`torch.FloatStorage`, …): its dtype.
    StorageType(DType),
    /// A dtype object (`torch.float32`, …).
    DTypeObject(DType),
}

/// A storage of the archive: `data/<key>`, of `numel` elements of `dtype`.
#[derive(Debug)]
pub(crate) struct StorageRef {
    pub(crate) key: String,
    pub(crate) dtype: DType,
    pub(crate) numel: usize,
}

/// A tensor: a strided view of a storage.
#[derive(Debug)]
pub(crate) struct TensorRef {
    pub(crate) storage: Rc<StorageRef>,
    pub(crate) offset: usize,
    pub(crate) shape: Vec<usize>,
    pub(crate) stride: Vec<usize>,
}

/// A read pickle: its root value, the container arena, and the attributes `BUILD` set on dicts
/// (a state dict's `_metadata`).
pub(crate) struct Pickle {
    pub(crate) root: Value,
    pub(crate) containers: Vec<Container>,
    pub(crate) dict_state: HashMap<usize, Value>,
    /// Every storage the pickle refers to, in order of first reference.
    pub(crate) storages: Vec<Rc<StorageRef>>,
}

impl Pickle {
    pub(crate) fn seq(&self, id: usize) -> &[Value] {
        match &self.containers[id] {
            Container::Seq(items) => items,
            Container::Dict(_) => &[],
        }
    }

    pub(crate) fn dict(&self, id: usize) -> Option<&IndexMap<Key, Value>> {
        match &self.containers[id] {
            Container::Dict(d) => Some(d),
            Container::Seq(_) => None,
        }
    }
}

/// The globals by `module.name`.
fn allowed(module: &str, name: &str) -> Option<Global> {
    // Protocol 2 names builtins as Python 2 did; Python's unpickler maps them back.
    let module = match module {
        "__builtin__" => "builtins",
        m => m,
    };
    let storage = |dtype| Some(Global::StorageType(dtype));
    let dtype = |dtype| Some(Global::DTypeObject(dtype));
    match (module, name) {
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch._utils", "_rebuild_parameter_with_state") => {
            Some(Global::RebuildParameterWithState)
        }
        ("torch._tensor", "_rebuild_from_type_v2") => Some(Global::RebuildFromType),
        ("torch", "Tensor") | ("torch.nn.parameter", "Parameter") => Some(Global::TensorType),
        ("torch", "Size") => Some(Global::Size),
        ("builtins", "set" | "frozenset") => Some(Global::Set),
        ("_codecs", "encode") => Some(Global::Encode),
        ("torch", "device") => Some(Global::Device),
        ("torch", "FloatStorage") => storage(DType::F32),
        ("torch", "DoubleStorage") => storage(DType::F64),
        ("torch", "HalfStorage") => storage(DType::F16),
        ("torch", "BFloat16Storage") => storage(DType::BF16),
        ("torch", "LongStorage") => storage(DType::I64),
        ("torch", "IntStorage") => storage(DType::I32),
        ("torch", "ShortStorage") => storage(DType::I16),
        ("torch", "CharStorage") => storage(DType::I8),
        ("torch", "ByteStorage") => storage(DType::U8),
        ("torch", "BoolStorage") => storage(DType::Bool),
        ("torch", "float32") => dtype(DType::F32),
        ("torch", "float64") => dtype(DType::F64),
        ("torch", "float16") => dtype(DType::F16),
        ("torch", "bfloat16") => dtype(DType::BF16),
        ("torch", "int64") => dtype(DType::I64),
        ("torch", "int32") => dtype(DType::I32),
        ("torch", "int16") => dtype(DType::I16),
        ("torch", "int8") => dtype(DType::I8),
        ("torch", "uint8") => dtype(DType::U8),
        ("torch", "bool") => dtype(DType::Bool),
        _ => None,
    }
}

/// Reads a whole pickle.
#[cfg(test)]
pub(crate) fn read(data: &[u8]) -> Result<Pickle, PickleError> {
    read_at(data, 0).map(|(pickle, _)| pickle)
}

/// Reads the pickle that starts at byte `start` of `data` (files of the legacy `torch.save`
/// format hold several in a row): the pickle, and where it ended.
pub(crate) fn read_at(data: &[u8], start: usize) -> Result<(Pickle, usize), PickleError> {
    Machine {
        data,
        pos: start,
        stack: vec![],
        marks: vec![],
        memo: HashMap::new(),
        pickle: Pickle {
            root: Value::None,
            containers: vec![],
            dict_state: HashMap::new(),
            storages: vec![],
        },
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    pickle: Pickle,
}

type Step<T> = Result<T, PickleError>;

impl Machine<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Step<T> {
        Err(PickleError::Format {
            offset: self.pos,
            message: message.into(),
        })
    }

    fn take(&mut self, n: usize) -> Step<&[u8]> {
        match self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
        {
            Some(end) => {
                let bytes = &self.data[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => self.error(format!("{n} bytes wanted past the end of the pickle")),
        }
    }

    fn u8(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Step<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn line(&mut self) -> Step<String> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return self.error("an unterminated line");
        };
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(text)
    }

    fn pop(&mut self) -> Step<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return self.error("pop across a MARK");
        }
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => self.error("pop from an empty stack"),
        }
    }

    fn top(&mut self) -> Step<&mut Value> {
        match self.stack.last_mut() {
            Some(v) => Ok(v),
            None => Err(PickleError::Format {
                offset: self.pos,
                message: "an empty stack".into(),
            }),
        }
    }

    /// Everything pushed since the last MARK, and the MARK popped.
    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        match self.marks.pop() {
            Some(m) => Ok(self.stack.split_off(m)),
            None => self.error("no MARK"),
        }
    }

    fn alloc(&mut self, c: Container) -> usize {
        self.pickle.containers.push(c);
        self.pickle.containers.len() - 1
    }

    fn seq(&mut self, items: Vec<Value>) -> Value {
        Value::Seq(self.alloc(Container::Seq(items)))
    }

    fn key(&self, v: &Value) -> Step<Key> {
        Ok(match v {
            Value::Str(s) => Key::Str(s.clone()),
            Value::Int(i) => Key::Int(*i),
            Value::Bool(b) => Key::Bool(*b),
            Value::None => Key::None,
            other => return self.error(format!("a dict key of kind {}", kind(other))),
        })
    }

    fn set_items(&mut self, target: &Value, items: Vec<Value>) -> Step<()> {
        if items.len() % 2 != 0 {
            return self.error("SETITEMS with an odd number of items");
        }
        let Value::Dict(id) = target else {
            return self.error(format!("SETITEM on a {}", kind(target)));
        };
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            pairs.push((self.key(&k)?, v));
        }
        if let Container::Dict(d) = &mut self.pickle.containers[*id] {
            d.extend(pairs);
        }
        Ok(())
    }

    fn append(&mut self, target: &Value, items: Vec<Value>) -> Step<()> {
        let Value::Seq(id) = target else {
            return self.error(format!("APPEND on a {}", kind(target)));
        };
        if let Container::Seq(s) = &mut self.pickle.containers[*id] {
            s.extend(items);
        }
        Ok(())
    }

    fn memo_put(&mut self, index: u32) -> Step<()> {
        let v = self.top()?.clone();
        self.memo.insert(index, v);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Step<()> {
        match self.memo.get(&index) {
            Some(v) => {
                let v = v.clone();
                self.stack.push(v);
                Ok(())
            }
            None => self.error(format!("memo {index} is empty")),
        }
    }

    fn int(&self, v: &Value) -> Step<i64> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(*b as i64),
            other => self.error(format!("an int expected, got a {}", kind(other))),
        }
    }

    fn usizes(&self, v: &Value) -> Step<Vec<usize>> {
        let Value::Seq(id) = v else {
            return self.error(format!("a tuple of ints expected, got a {}", kind(v)));
        };
        self.pickle
            .seq(*id)
            .iter()
            .map(|x| {
                let i = self.int(x)?;
                usize::try_from(i).or_else(|_| self.error(format!("a negative size {i}")))
            })
            .collect()
    }

    fn args(&self, v: &Value) -> Step<Vec<Value>> {
        match v {
            Value::Seq(id) => Ok(self.pickle.seq(*id).to_vec()),
            other => self.error(format!("arguments must be a tuple, got a {}", kind(other))),
        }
    }

    /// What calling an allowed global with `args` gives.
    fn call(&mut self, callable: Value, args: Value) -> Step<Value> {
        let Value::Global(global) = callable else {
            return self.error(format!("a call of a {}", kind(&callable)));
        };
        let args = self.args(&args)?;
        match (global, args.as_slice()) {
            (Global::OrderedDict, []) => {
                Ok(Value::Dict(self.alloc(Container::Dict(IndexMap::new()))))
            }
            (Global::OrderedDict, [pairs]) | (Global::Set, [pairs]) => {
                let items = self.args(pairs)?;
                if global == Global::Set {
                    return Ok(self.seq(items));
                }
                let dict = Value::Dict(self.alloc(Container::Dict(IndexMap::new())));
                let mut flat = vec![];
                for pair in items {
                    flat.extend(self.args(&pair)?);
                }
                self.set_items(&dict, flat)?;
                Ok(dict)
            }
            (Global::Set, []) => Ok(self.seq(vec![])),
            (Global::RebuildTensor, [storage, offset, shape, stride, ..]) if args.len() >= 6 => {
                let Value::Storage(storage) = storage else {
                    return self.error(format!("_rebuild_tensor_v2 of a {}", kind(storage)));
                };
                let offset = self.int(offset)?;
                let (shape, stride) = (self.usizes(shape)?, self.usizes(stride)?);
                if shape.len() != stride.len() {
                    return self.error("a tensor whose shape and stride differ in length");
                }
                Ok(Value::Tensor(Rc::new(TensorRef {
                    storage: storage.clone(),
                    offset: usize::try_from(offset)
                        .or_else(|_| self.error("a negative storage offset"))?,
                    shape,
                    stride,
                })))
            }
            (Global::RebuildParameter | Global::RebuildParameterWithState, [data, ..]) => {
                match data {
                    Value::Tensor(_) => Ok(data.clone()),
                    other => self.error(format!("a parameter of a {}", kind(other))),
                }
            }
            (Global::RebuildFromType, [func, Value::Global(Global::TensorType), inner, _]) => {
                self.call(func.clone(), inner.clone())
            }
            (Global::Size, [dims]) => Ok(dims.clone()),
            (Global::Device, [Value::Str(s), ..]) => Ok(Value::Str(s.clone())),
            (Global::Encode, [Value::Str(s), ..]) => {
                let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c).ok()).collect();
                match bytes {
                    Some(b) => Ok(Value::Bytes(b.into())),
                    None => self.error("_codecs.encode of a string that is not latin-1"),
                }
            }
            (global, args) => self.error(format!(
                "{global:?} called with {} arguments it does not take",
                args.len()
            )),
        }
    }

    /// `BINPERSID`: `('storage', storage_type, key, location, numel)`.
    fn persistent(&mut self, pid: Value) -> Step<Value> {
        let fields = self.args(&pid)?;
        match fields.as_slice() {
            // The zip format's five fields, and the legacy format's, with a sixth: the view of
            // another storage this one is (`None` for a storage of its own).
            [Value::Str(tag), Value::Global(Global::StorageType(dtype)), Value::Str(key), _, numel]
            | [Value::Str(tag), Value::Global(Global::StorageType(dtype)), Value::Str(key), _, numel, Value::None]
                if &**tag == "storage" =>
            {
                let numel = self.int(numel)?;
                let storage = Rc::new(StorageRef {
                    key: key.to_string(),
                    dtype: *dtype,
                    numel: usize::try_from(numel).or_else(|_| self.error("a negative numel"))?,
                });
                self.pickle.storages.push(storage.clone());
                Ok(Value::Storage(storage))
            }
            _ => self.error("a persistent id that is not a storage"),
        }
    }

    fn run(mut self) -> Result<(Pickle, usize), PickleError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return self.error(format!("pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => {
                    let root = self.pop()?;
                    self.pickle.root = root;
                    return Ok((self.pickle, self.pos));
                }
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v.into()))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()))
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v.into()))
                }
                0x8a | 0x8b => {
                    let n = match op {
                        0x8a => self.u8()? as usize,
                        _ => u32::from_le_bytes(self.le()?) as usize,
                    };
                    let value = long(self.take(n)?);
                    match value {
                        Some(v) => self.stack.push(Value::Int(v)),
                        None => return self.error(format!("an integer of {n} bytes")),
                    }
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let text = line.trim_end_matches('L');
                    let v = match text {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        t => {
                            Value::Int(t.parse().or_else(|_| self.error(format!("an int {t:?}")))?)
                        }
                    };
                    self.stack.push(v);
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.stack.push(Value::Float(v))
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        0x8c => self.u8()? as usize,
                        b'X' => u32::from_le_bytes(self.le()?) as usize,
                        _ => usize::try_from(u64::from_le_bytes(self.le()?)).unwrap_or(usize::MAX),
                    };
                    let bytes = self.take(n)?;
                    let s = match std::str::from_utf8(bytes) {
                        Ok(s) => Rc::<str>::from(s),
                        Err(_) => return self.error("a string that is not UTF-8"),
                    };
                    self.stack.push(Value::Str(s));
                }
                b'C' | b'B' | 0x8e | 0x96 => {
                    let n = match op {
                        b'C' => self.u8()? as usize,
                        b'B' => u32::from_le_bytes(self.le()?) as usize,
                        _ => usize::try_from(u64::from_le_bytes(self.le()?)).unwrap_or(usize::MAX),
                    };
                    let bytes = Rc::<[u8]>::from(self.take(n)?);
                    self.stack.push(Value::Bytes(bytes));
                }
                b'}' => {
                    let id = self.alloc(Container::Dict(IndexMap::new()));
                    self.stack.push(Value::Dict(id))
                }
                b']' | b')' | 0x8f => {
                    let v = self.seq(vec![]);
                    self.stack.push(v)
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let dict = Value::Dict(self.alloc(Container::Dict(IndexMap::new())));
                    self.set_items(&dict, items)?;
                    self.stack.push(dict);
                }
                b'l' | b't' | 0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.seq(items);
                    self.stack.push(v);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let v = self.seq(items);
                    self.stack.push(v);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let target = self.top()?.clone();
                    self.append(&target, vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.append(&target, items)?;
                }
                b'q' => {
                    let i = self.u8()?;
                    self.memo_put(i.into())?
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.le()?);
                    self.memo_put(i)?
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    self.memo_put(i)?
                }
                b'h' => {
                    let i = self.u8()?;
                    self.memo_get(i.into())?
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.le()?);
                    self.memo_get(i)?
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push_global(&module, &name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.push_global(&m, &n)?,
                        _ => return self.error("STACK_GLOBAL of non-strings"),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.stack.push(v);
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()?.clone() {
                        Value::Dict(id) => {
                            self.pickle.dict_state.insert(id, state);
                        }
                        // A tensor's state (its `__dict__`, PyTorch's extra attributes) carries
                        // no data.
                        Value::Tensor(_) => {}
                        other => return self.error(format!("BUILD on a {}", kind(&other))),
                    }
                }
                other => {
                    return self.error(format!(
                        "opcode 0x{other:02x}, which weights-only loading does not read"
                    ))
                }
            }
        }
    }

    fn push_global(&mut self, module: &str, name: &str) -> Step<()> {
        match allowed(module, name) {
            Some(g) => {
                self.stack.push(Value::Global(g));
                Ok(())
            }
            None => {
                let module = if module == "__builtin__" {
                    "builtins"
                } else {
                    module
                };
                Err(PickleError::Global(format!("{module}.{name}")))
            }
        }
    }
}

/// A little-endian two's-complement integer of up to 8 bytes.
fn long(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return Some(0);
    }
    if bytes.len() > 8 {
        return None;
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = if negative { [0xff; 8] } else { [0; 8] };
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(i64::from_le_bytes(buf))
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::Seq(_) => "list or tuple",
        Value::Dict(_) => "dict",
        Value::Tensor(_) => "tensor",
        Value::Storage(_) => "storage",
        Value::Global(_) => "global",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_width() {
        assert_eq!(long(&[]), Some(0));
        assert_eq!(long(&[0xff]), Some(-1));
        assert_eq!(long(&[0x00, 0x80]), Some(-32768));
        assert_eq!(long(&[1; 9]), None);
    }

    #[test]
    fn a_forbidden_global_is_refused_by_name() {
        let e = read(b"\x80\x02cposix\nsystem\nq\x00.").err().unwrap();
        assert_eq!(e, PickleError::Global("posix.system".into()));
    }

    #[test]
    fn shared_containers_cost_nothing_to_reference() {
        // A list holding itself 2^20 times through the memo: a million references, one list.
        let mut p = b"\x80\x02]q\x00(".to_vec();
        for _ in 0..1 << 20 {
            p.extend_from_slice(b"h\x00");
        }
        p.extend_from_slice(b"e.");
        let pickle = read(&p).unwrap();
        assert_eq!(pickle.containers.len(), 1);
    }
}
