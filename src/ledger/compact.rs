//! Compact JSON text of the records of finished connections, byte for byte
//! what `serde_json::to_writer` writes for them.
//!
//! A short connection's record is about 1.5 KB of JSON of which two thirds
//! are the keys of its fields. serde_json escapes every string it writes,
//! keys included, a byte at a time: on short connections that was a fifth
//! of a JSON run's instructions. Here a string is copied whole when a
//! branch-free pass over it finds nothing to escape (keys never have
//! anything), and handed to serde_json when it does; so are floats, bytes
//! and map keys that are not strings. Integers are written by itoa, as
//! serde_json writes them. `tests/store.rs` holds the JSON documents built
//! from these records equal to serde_json's over every bundled capture, and
//! the tests below do for each kind of value.

use serde::ser::{self, Serialize};
use std::fmt::{self, Display, Write as _};

/// Appends `value` to `out` as compact JSON.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// Why a value could not be written: what its `Serialize` said, or
/// serde_json's own error for the values it writes.
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

/// Whether JSON escapes none of `bytes` (control characters, `"` and `\`;
/// serde_json leaves everything else as it is), eight bytes at a time: a
/// word has such a byte when one of its bytes is below 0x20 or, XORed with
/// the quote or the backslash, zero (the classic exact tests of "Bit
/// Twiddling Hacks": a borrow only ever starts at a byte that matches).
fn plain(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    fn below(w: u64, n: u8) -> u64 {
        w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
    }
    fn escapes(w: u64) -> u64 {
        below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
    }
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for word in &mut words {
        let mut w = [0; 8];
        w.copy_from_slice(word);
        found |= escapes(u64::from_ne_bytes(w));
    }
    // The last few bytes, the rest of the word a letter.
    let rest = words.remainder();
    let mut w = [b'a'; 8];
    if let Some(head) = w.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    found |= escapes(u64::from_ne_bytes(w));
    found == 0
}

/// `s` as a JSON string.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    if plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        Ok(serde_json::to_writer(out, s)?)
    }
}

fn integer<I: itoa::Integer>(out: &mut Vec<u8>, i: I) -> Result<(), Error> {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    Ok(())
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// An array or object being written: whether an element came yet, and
/// what closes it.
struct Compound<'w, 'a> {
    w: &'w mut Writer<'a>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn separate(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.w.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(&mut *self.w)
    }

    /// A struct's field. Its name is written as it is: serde's derive gives
    /// the name of a Rust field or its `rename`, in this crate's source,
    /// which has nothing JSON escapes (checked in debug builds, and by the
    /// documents compared with serde_json's in the tests).
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        debug_assert!(plain(key.as_bytes()), "{key:?}");
        let out = &mut *self.w.out;
        out.reserve(key.len() + 4);
        if !std::mem::replace(&mut self.first, false) {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.serialize(&mut *self.w)
    }

    fn close(self) -> Result<(), Error> {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl<'w, 'a> Writer<'a> {
    fn open(&'w mut self, open: &[u8], close: &'static [u8]) -> Compound<'w, 'a> {
        self.out.extend_from_slice(open);
        Compound {
            w: self,
            first: true,
            close,
        }
    }

    /// `{"variant":` before a variant's value, closed by `close`.
    fn variant(
        &'w mut self,
        variant: &str,
        open: &[u8],
        close: &'static [u8],
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        string(self.out, variant)?;
        self.out.push(b':');
        Ok(self.open(open, close))
    }
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        integer(self.out, v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        Ok(serde_json::to_writer(&mut *self.out, &v)?)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        Ok(serde_json::to_writer(&mut *self.out, &v)?)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        string(self.out, v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        string(self.out, v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        Ok(serde_json::to_writer(&mut *self.out, v)?)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        string(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let one = self.variant(variant, b"", b"}")?;
        value.serialize(&mut *one.w)?;
        one.close()
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Ok(self.open(b"[", b"]"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Ok(self.open(b"[", b"]"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Ok(self.open(b"[", b"]"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        self.variant(variant, b"[", b"]}")
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Ok(self.open(b"{", b"}"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Ok(self.open(b"{", b"}"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.variant(variant, b"{", b"}}")
    }

    /// Written in place, then escaped like any string if it needs to be.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        struct Utf8<'a>(&'a mut Vec<u8>);
        impl fmt::Write for Utf8<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
        let start = self.out.len();
        self.out.push(b'"');
        write!(Utf8(self.out), "{value}").map_err(|e| Error(e.to_string()))?;
        let text = self.out.get(start + 1..).unwrap_or_default();
        if plain(text) {
            self.out.push(b'"');
            return Ok(());
        }
        let text = self.out.split_off(start + 1);
        self.out.truncate(start);
        let text = String::from_utf8(text).map_err(|e| Error(e.to_string()))?;
        string(self.out, &text)
    }
}

/// Arrays: each element after a comma but the first.
macro_rules! array {
    ($($trait:ident::$method:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        })*
    };
}

array!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    /// A string key as any string; any other as serde_json writes it (it
    /// quotes numbers and refuses what cannot be a key).
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        let mark = self.w.out.len();
        match key.serialize(KeyWriter(self.w.out)) {
            Err(KeyError::Other) => {
                self.w.out.truncate(mark);
                let one = serde_json::to_vec(&OneKey(key))?;
                // `{"key":null}`: the key alone.
                let inner = one
                    .get(1..one.len().saturating_sub(b":null}".len()))
                    .ok_or_else(|| Error("a map key as JSON".into()))?;
                self.w.out.extend_from_slice(inner);
                Ok(())
            }
            Err(KeyError::Custom(e)) => Err(Error(e)),
            Ok(()) => Ok(()),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// Structs and struct variants: their fields by name.
macro_rules! object {
    ($($trait:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        })*
    };
}

object!(SerializeStruct, SerializeStructVariant);

/// A map with `key` alone, for serde_json to write a key that is not a
/// string.
struct OneKey<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for OneKey<'_, T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &())?;
        map.end()
    }
}

#[derive(Debug)]
enum KeyError {
    /// Not a string: serde_json writes it.
    Other,
    Custom(String),
}

impl Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Other => f.write_str("not a string key"),
            KeyError::Custom(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for KeyError {}

impl ser::Error for KeyError {
    fn custom<T: Display>(msg: T) -> Self {
        KeyError::Custom(msg.to_string())
    }
}

/// Writes a map key that is a string; anything else is [`KeyError::Other`].
struct KeyWriter<'a>(&'a mut Vec<u8>);

macro_rules! not_a_string {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), KeyError> {
            Err(KeyError::Other)
        })*
    };
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = ser::Impossible<(), KeyError>;
    type SerializeTuple = ser::Impossible<(), KeyError>;
    type SerializeTupleStruct = ser::Impossible<(), KeyError>;
    type SerializeTupleVariant = ser::Impossible<(), KeyError>;
    type SerializeMap = ser::Impossible<(), KeyError>;
    type SerializeStruct = ser::Impossible<(), KeyError>;
    type SerializeStructVariant = ser::Impossible<(), KeyError>;

    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        string(self.0, v).map_err(|e| KeyError::Custom(e.0))
    }

    not_a_string! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, KeyError> {
        Err(KeyError::Other)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, KeyError> {
        Err(KeyError::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn same<T: Serialize + ?Sized>(value: &T) {
        let mut ours = Vec::new();
        write(&mut ours, value).expect("written");
        let theirs = serde_json::to_vec(value).expect("serde_json");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(u8, String),
        Struct { a: Option<u8>, b: Vec<u8> },
    }

    #[derive(Serialize)]
    struct Inner {
        x: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        gone: Option<u8>,
    }

    #[derive(Serialize)]
    struct Outer<'a> {
        name: &'a str,
        #[serde(flatten)]
        inner: Inner,
        shapes: Vec<Shape>,
        unit: (),
        tuple: (u8, bool, char),
        floats: [f64; 5],
        float32: f32,
        big: (i128, u128),
        map: BTreeMap<u32, &'a str>,
        text_map: BTreeMap<&'a str, Option<bool>>,
        bytes: &'a serde_bytes_like::Bytes,
        addr: std::net::SocketAddr,
        empty: Vec<u8>,
        nested: Vec<Vec<Inner>>,
    }

    /// A byte string serialized as bytes (what `serde_bytes` does).
    mod serde_bytes_like {
        pub struct Bytes(pub [u8; 3]);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it() {
        let map = BTreeMap::from([(1, "one"), (20, "two\"")]);
        let text_map = BTreeMap::from([("k\n", Some(true)), ("plain", None)]);
        let outer = Outer {
            name: "a \"name\"\u{1}\u{7f}é\u{2028}",
            inner: Inner { x: -5, gone: None },
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(1, "t".into()),
                Shape::Struct {
                    a: None,
                    b: vec![1, 2],
                },
            ],
            unit: (),
            tuple: (255, false, '"'),
            floats: [0.5, 1e-7, 1e300, f64::NAN, -0.0],
            float32: 3.25,
            big: (i128::MIN, u128::MAX),
            map,
            text_map,
            bytes: &serde_bytes_like::Bytes([0, 1, 255]),
            addr: "[2001:db8::1]:443".parse().expect("address"),
            empty: vec![],
            nested: vec![
                vec![],
                vec![Inner {
                    x: 1,
                    gone: Some(2),
                }],
            ],
        };
        same(&outer);
        same(&Option::<Inner>::None);
        same("\\");
        same(&std::net::SocketAddr::from(([10, 0, 0, 1], 80)));
    }

    /// A `Display` value with text to escape, written through
    /// `collect_str`.
    #[test]
    fn displayed_text_is_escaped_like_any_string() {
        struct Shown(&'static str);
        impl Serialize for Shown {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self.0)
            }
        }
        for text in ["", "plain", "tab\there", "\"quoted\"", "back\\slash"] {
            same(&Shown(text));
        }
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in any::<String>(), ascii in "[ -~\\x00-\\x1f]{0,80}") {
            same(&s);
            same(&ascii);
            same(&BTreeMap::from([(s.clone(), ascii.clone())]));
        }
    }
}
