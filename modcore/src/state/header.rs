//! A safetensors file's header, read once and checked before any of it is used.
//!
//! The `safetensors` crate parses a header twice when asked for both its tensors and their
//! file order, keeps the last of two entries of the same name, and computes sizes with unchecked
//! arithmetic (a crafted shape overflows it in a debug build). Checkpoints come from the
//! internet, so the loader reads the header itself, in one pass, and refuses what PyTorch's
//! `safetensors` would refuse or could not mean:
//! - a header length beyond the file, a header that is not a JSON object of entries;
//! - two entries of one name;
//! - an element count or byte size that overflows, or a byte range that is not what the dtype
//!   and shape take;
//! - byte ranges that do not tile the data section exactly (holes, overlaps, bytes past the end).
//!
//! Entry names borrow from the file's bytes where they can, and shapes share one buffer, so the
//! header's entries take about as much memory as the header's text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use safetensors::tensor::Dtype as FileDtype;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The most header bytes a file may declare (safetensors' own limit, 100 MB).
const MAX_HEADER: usize = 100_000_000;

/// One tensor entry of a header.
pub(crate) struct Entry<'a> {
    pub name: Cow<'a, str>,
    pub dtype: FileDtype,
    /// Where the shape starts in [`Header::shapes`], and its rank.
    shape_at: u32,
    rank: u32,
    /// The entry's bytes, relative to the data section.
    pub begin: usize,
    pub end: usize,
}

/// A checked header: its entries in file order (by byte offset), its string metadata, and where
/// the data section starts.
pub(crate) struct Header<'a> {
    pub entries: Vec<Entry<'a>>,
    shapes: Vec<usize>,
    pub metadata: Option<HashMap<String, String>>,
    pub data_start: usize,
}

impl<'a> Header<'a> {
    /// The shape of `entry`.
    pub fn shape(&self, entry: &Entry<'_>) -> &[usize] {
        let at = entry.shape_at as usize;
        &self.shapes[at..at + entry.rank as usize]
    }

    /// The bytes of `entry` in `file`.
    pub fn data<'f>(&self, file: &'f [u8], entry: &Entry<'_>) -> &'f [u8] {
        &file[self.data_start + entry.begin..self.data_start + entry.end]
    }
}

/// Reads and checks the header of the safetensors file `file`.
pub(crate) fn parse(file: &[u8]) -> Result<Header<'_>, String> {
    let Some((length, rest)) = file.split_first_chunk::<8>() else {
        return Err(format!("{} bytes is too short for a header", file.len()));
    };
    let length = u64::from_le_bytes(*length);
    let length = usize::try_from(length)
        .ok()
        .filter(|&n| n <= rest.len() && n <= MAX_HEADER)
        .ok_or_else(|| {
            format!(
                "the header says it is {length} bytes long; the file has {} bytes after it (at most {MAX_HEADER})",
                rest.len()
            )
        })?;
    let text = std::str::from_utf8(&rest[..length])
        .map_err(|e| format!("the header is not UTF-8: {e}"))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut header = deserializer
        .deserialize_map(HeaderVisitor)
        .map_err(|e| format!("invalid header: {e}"))?;
    deserializer
        .end()
        .map_err(|e| format!("invalid header: {e}"))?;
    header.data_start = 8 + length;
    check(&mut header, rest.len() - length)?;
    Ok(header)
}

/// Checks names, sizes and byte ranges, and puts the entries in file order.
fn check(header: &mut Header<'_>, data_len: usize) -> Result<(), String> {
    // Sorting by name finds duplicates without a second copy of the names.
    header.entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = header.entries.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!(
            "tensor \"{}\" is in the header twice",
            pair[0].name
        ));
    }
    for entry in &header.entries {
        let shape = header.shape(entry);
        // Every partial product (what a backend's strides are) must fit, even when a zero
        // dimension makes the element count 0.
        let fits = shape
            .iter()
            .try_fold(entry.dtype.bitsize(), |n, &d| n.checked_mul(d.max(1)))
            .is_some();
        let bits = shape
            .iter()
            .try_fold(entry.dtype.bitsize(), |n, &d| n.checked_mul(d))
            .filter(|_| fits)
            .ok_or_else(|| {
                format!(
                    "tensor \"{}\": shape {shape:?} of {} overflows",
                    entry.name, entry.dtype
                )
            })?;
        if bits % 8 != 0 || entry.end.checked_sub(entry.begin) != Some(bits / 8) {
            return Err(format!(
                "tensor \"{}\": shape {shape:?} of {} takes {} bits, but its data_offsets [{}, {}] hold {} bytes",
                entry.name,
                entry.dtype,
                bits,
                entry.begin,
                entry.end,
                entry.end.saturating_sub(entry.begin)
            ));
        }
    }
    header.entries.sort_by_key(|e| (e.begin, e.end));
    let mut next = 0;
    for entry in &header.entries {
        if entry.begin != next {
            return Err(format!(
                "tensor \"{}\" starts at byte {} of the data, where byte {next} was expected (entries must tile the data)",
                entry.name, entry.begin
            ));
        }
        next = entry.end;
    }
    if next != data_len {
        return Err(format!(
            "the entries cover {next} bytes of data; the file has {data_len}"
        ));
    }
    Ok(())
}

/// An entry as the header writes it.
#[derive(Deserialize)]
struct Info {
    dtype: FileDtype,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensor entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut header = Header {
            entries: Vec::new(),
            shapes: Vec::new(),
            metadata: None,
            data_start: 0,
        };
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            if name == "__metadata__" {
                if header.metadata.is_some() {
                    return Err(de::Error::custom("\"__metadata__\" is in the header twice"));
                }
                header.metadata = Some(map.next_value()?);
                continue;
            }
            let info: Info = map.next_value()?;
            let (shape_at, rank) = match (
                u32::try_from(header.shapes.len()),
                u32::try_from(info.shape.len()),
            ) {
                (Ok(at), Ok(rank)) => (at, rank),
                _ => return Err(de::Error::custom("the header's shapes are too large")),
            };
            header.shapes.extend_from_slice(&info.shape);
            header.entries.push(Entry {
                name,
                dtype: info.dtype,
                shape_at,
                rank,
                begin: info.data_offsets.0,
                end: info.data_offsets.1,
            });
        }
        Ok(header)
    }
}

/// An entry name, borrowed from the header's text unless it has escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor name")
            }

            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

/// Reads a JSON object as `(key, value)` pairs in order, refusing a key that appears twice
/// (`serde_json`'s maps keep the last). What a sharded index's `weight_map` is read as.
pub(crate) struct UniqueMap<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs<V>(std::marker::PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for Pairs<V> {
            type Value = UniqueMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMap<V>, A::Error> {
                let mut pairs: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key()? {
                    pairs.push((key, map.next_value()?));
                }
                let mut seen: std::collections::HashSet<&str, foldhash::fast::RandomState> =
                    Default::default();
                seen.reserve(pairs.len());
                if let Some((key, _)) = pairs.iter().find(|(key, _)| !seen.insert(key)) {
                    return Err(de::Error::custom(format!("\"{key}\" is mapped twice")));
                }
                Ok(UniqueMap(pairs))
            }
        }

        deserializer.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

/// An index file: its `weight_map` (anything else it holds, such as `metadata`, is ignored).
#[derive(Deserialize)]
pub(crate) struct Index {
    pub weight_map: UniqueMap<String>,
}
