//! A serde serializer that writes exactly the bytes `serde_json::to_writer` writes (compact
//! form), into a `Vec<u8>`, with less work per token: used for the parts of the flows (~95 %
//! of a report's bytes) that `flow_json` does not write by hand. serde_json writes each token through `io::Write` and tests every key and string byte
//! against its escape table; here a string is searched eight bytes at a time for the first
//! byte that needs an escape, and copied in one piece. Measured (stop 14): 940 -> 896 M
//! instructions at 100 MiB (one thread), the 1 GiB output stage 99 -> 89 ms (median of 8).
//! `sonic-rs` (SIMD escaping) gained less: its per-string setup costs as much as the scan on
//! our short strings. Floats and byte strings are left to serde_json (none are hot).
//!
//! Stop 15: a key is written in one reservation with its comma and colon, and the search
//! ends on one overlapping word instead of a byte loop: 895 -> 880 M instructions, output stage
//! median 85 -> 81 ms (1 GiB, 8 alternated runs). Copying short strings as overlapping words
//! through the registers cut more instructions (878 M) but was slower (97 ms): the stage waits
//! on loads of the summaries' strings from all over the heap (perf: the first load of a string
//! takes a fifth of the samples), not on the instructions around them.
//!
//! `report::json`'s test compares every testdata report with `serde_json::to_vec`; the tests
//! here compare strings (every code point below U+0800) and every other serde shape.

use serde::ser::{self, Serialize};

type Error = serde_json::Error;
type Result<T = ()> = std::result::Result<T, Error>;

/// Appends `value` to `out` as `serde_json::to_writer(out, value)` would.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result {
    value.serialize(&mut Compact { out })
}

pub struct Compact<'a> {
    out: &'a mut Vec<u8>,
}

/// serde_json's escapes: the two-character ones, `\u00XX` (lowercase hex) for the other
/// control characters; nothing else (not `/`, not DEL, not non-ASCII).
pub(super) fn push_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    match first_escape(bytes) {
        // Nearly every string: one reservation, one copy.
        None => {
            out.reserve(bytes.len() + 2);
            out.push(b'"');
            out.extend_from_slice(bytes);
            out.push(b'"');
        }
        Some(at) => push_escaped_from(out, bytes, at),
    }
}

/// A struct field's key with the comma before it (`comma`) and the colon after it: keys are
/// many (~90 a flow) and short, so they get one reservation for all five parts.
fn push_key(out: &mut Vec<u8>, comma: bool, key: &str) {
    let bytes = key.as_bytes();
    if first_escape(bytes).is_some() {
        if comma {
            out.push(b',');
        }
        push_escaped(out, key);
        out.push(b':');
        return;
    }
    out.reserve(bytes.len() + 4);
    if comma {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\":");
}

/// `bytes` quoted, with the first escape at `at`.
#[cold]
fn push_escaped_from(out: &mut Vec<u8>, bytes: &[u8], at: usize) {
    out.reserve(bytes.len() + 8);
    out.push(b'"');
    let mut rest = bytes;
    let mut next = Some(at);
    while let Some(at) = next {
        out.extend_from_slice(&rest[..at]);
        let b = rest[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = &rest[at + 1..];
        next = first_escape(rest);
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The first byte of `bytes` that needs an escape, eight bytes at a time: a byte below 0x20,
/// a `"` or a `\\` sets its high bit in one of the three masks (the classic "has a zero / less
/// than" word tricks). Bits above a match may be set spuriously by its borrow, never bits below
/// it, so the lowest set bit is the first match. The tail is one more word, the last eight
/// bytes: those it shares with the word before are clean, so they flag nothing. Strings of 4
/// to 7 bytes are two such overlapping half words; only 1 to 3 bytes go byte by byte.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Spaces (clean) above a half word.
    const PAD: u64 = 0x2020_2020_0000_0000;
    let flagged = |x: u64| {
        let ctrl = x.wrapping_sub(ONES * 0x20) & !x;
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        (ctrl | (quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGH
    };
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| {
        PAD | u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    let found = |at: usize, m: u64| Some(at + (m.trailing_zeros() / 8) as usize);
    let n = bytes.len();
    if n < 4 {
        return bytes.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]);
    }
    if n < 8 {
        for at in [0, n - 4] {
            let m = flagged(half(at));
            if m != 0 {
                return found(at, m);
            }
        }
        return None;
    }
    let mut at = 0;
    while at + 8 <= n {
        let m = flagged(word(at));
        if m != 0 {
            return found(at, m);
        }
        at += 8;
    }
    if at < n {
        let m = flagged(word(n - 8));
        if m != 0 {
            return found(n - 8, m);
        }
    }
    None
}

/// The same test a byte at a time, for strings of fewer than four bytes.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

pub(super) fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A sequence or map being written: whether the next element needs a comma first.
pub struct Compound<'s, 'a> {
    ser: &'s mut Compact<'a>,
    first: bool,
    /// What closes it: `]`, `}`, or `]}` / `}}` for a variant's contents.
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.push(b',');
        }
    }

    fn close(self) {
        self.ser.out.extend_from_slice(self.close);
    }
}

impl<'s, 'a> Compact<'a> {
    fn open(&'s mut self, open: u8, close: &'static [u8]) -> Compound<'s, 'a> {
        self.out.push(open);
        Compound {
            ser: self,
            first: true,
            close,
        }
    }

    /// `{"variant":` before a variant's contents.
    fn variant_key(&mut self, variant: &str) {
        self.out.push(b'{');
        push_escaped(self.out, variant);
        self.out.push(b':');
    }
}

macro_rules! ints {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result {
            push_int(self.out, v);
            Ok(())
        })*
    };
}

impl<'s, 'a> ser::Serializer for &'s mut Compact<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result {
        serde_json::to_writer(&mut *self.out, &v)
    }

    fn serialize_f64(self, v: f64) -> Result {
        serde_json::to_writer(&mut *self.out, &v)
    }

    fn serialize_char(self, v: char) -> Result {
        push_escaped(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result {
        push_escaped(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result {
        serde_json::to_writer(&mut *self.out, &serde_bytes_as_seq(v))
    }

    fn serialize_none(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_none()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.variant_key(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(self.open(b'[', b"]"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Ok(self.open(b'[', b"]"))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTuple> {
        Ok(self.open(b'[', b"]"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.variant_key(variant);
        Ok(self.open(b'[', b"]}"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(self.open(b'{', b"}"))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Ok(self.open(b'{', b"}"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.variant_key(variant);
        Ok(self.open(b'{', b"}}"))
    }
}

/// Bytes as serde_json writes them: a sequence of numbers.
fn serde_bytes_as_seq(v: &[u8]) -> impl Serialize + '_ {
    struct Seq<'b>(&'b [u8]);
    impl Serialize for Seq<'_> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_seq(self.0)
        }
    }
    Seq(v)
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.comma();
                value.serialize(&mut *self.ser)
            }

            fn end(self) -> Result {
                self.close();
                Ok(())
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! fields {
    ($($trait:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result {
                let comma = !std::mem::replace(&mut self.first, false);
                push_key(self.ser.out, comma, key);
                value.serialize(&mut *self.ser)
            }

            fn end(self) -> Result {
                self.close();
                Ok(())
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(MapKey { out: self.ser.out })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.ser.out.push(b':');
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result {
        self.close();
        Ok(())
    }
}

/// Map keys: strings, and what serde_json turns into strings (numbers, chars, unit variants);
/// anything else is the error serde_json gives.
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

fn key_must_be_a_string() -> Error {
    <Error as ser::Error>::custom("key must be a string")
}

/// A finite float key in quotes, as serde_json writes it; others are refused.
fn float_key(out: &mut Vec<u8>, finite: bool, v: &impl Serialize) -> Result {
    if !finite {
        return Err(<Error as ser::Error>::custom("float key must be finite"));
    }
    out.push(b'"');
    serde_json::to_writer(&mut *out, v)?;
    out.push(b'"');
    Ok(())
}

macro_rules! int_keys {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result {
            self.out.push(b'"');
            push_int(self.out, v);
            self.out.push(b'"');
            Ok(())
        })*
    };
}

macro_rules! not_keys {
    ($($method:ident($($arg:ty),*) -> $ret:ty),*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret> {
            Err(key_must_be_a_string())
        })*
    };
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result {
        push_escaped(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result {
        push_escaped(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    int_keys!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result {
        float_key(self.out, v.is_finite(), &v)
    }

    fn serialize_f64(self, v: f64) -> Result {
        float_key(self.out, v.is_finite(), &v)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(key_must_be_a_string())
    }

    not_keys!(
        serialize_bytes(&[u8]) -> (),
        serialize_none() -> (),
        serialize_unit() -> (),
        serialize_unit_struct(&'static str) -> (),
        serialize_seq(Option<usize>) -> Self::SerializeSeq,
        serialize_tuple(usize) -> Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant,
        serialize_map(Option<usize>) -> Self::SerializeMap,
        serialize_struct(&'static str, usize) -> Self::SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    fn same<T: Serialize + ?Sized>(value: &T) {
        let want = serde_json::to_vec(value).unwrap();
        let mut got = Vec::new();
        write(&mut got, value).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        // Every code point below 0x800 alone and between text, then a few wider ones.
        for c in (0u32..0x800)
            .chain([0xfffd, 0x1f600])
            .filter_map(char::from_u32)
        {
            same(&c.to_string());
            same(&format!("ab{c}cd{c}"));
            same(&c);
        }
        // Each ASCII character at every place of strings of 1 to 24 bytes: byte by byte
        // (1-3), the two overlapping half words (4-7), whole words and the overlapping last
        // word (8-24). Then a second one after it: the search starts again behind an escape.
        for c in (0u8..0x80).map(char::from) {
            for len in 1..=24 {
                for k in 0..len {
                    let s = format!("{}{c}{}", "x".repeat(k), "y".repeat(len - 1 - k));
                    same(&s);
                    same(&format!("\"{s}"));
                    same(&format!("{s}{s}"));
                }
            }
        }
        same("");
        same("plain text, no escapes at all / DEL \u{7f}");
        same("\"quoted\" \\back\\ \r\n\t\u{8}\u{c}\u{0}\u{1f}");
    }

    #[test]
    fn every_serde_shape_is_written_as_serde_json_writes_it() {
        #[derive(Serialize)]
        struct Inner {
            a: u8,
            b: Option<i64>,
        }
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u16),
            Tuple(u8, String),
            Struct { x: bool, y: Vec<u32> },
        }
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct Newtype(u32);
        #[derive(Serialize)]
        struct TupleStruct(u8, i8);
        #[derive(Serialize)]
        struct Outer {
            #[serde(rename = "type")]
            kind: &'static str,
            odd_keys: OddKeys,
            ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
            extremes: (i64, u64, i128, u128),
            floats: (f32, f64, f64, f64),
            #[serde(flatten)]
            inner: Inner,
            none: Option<u8>,
            unit: (),
            unit_struct: Unit,
            newtype: Newtype,
            tuple_struct: TupleStruct,
            variants: Vec<E>,
            empty: Vec<u8>,
            bytes: serde_bytes_like::Bytes,
            str_keys: BTreeMap<String, u8>,
            int_keys: BTreeMap<i32, &'static str>,
            char_keys: BTreeMap<char, bool>,
            bool_keys: BTreeMap<bool, u8>,
            option_keys: BTreeMap<Option<u16>, u8>,
            variant_keys: BTreeMap<Key, u8>,
            float_keys: Vec<(FloatKey, u8)>,
        }
        /// Field keys that need escapes, first and after a comma.
        #[derive(Serialize)]
        struct OddKeys {
            #[serde(rename = "\"first\"")]
            first: u8,
            #[serde(rename = "back\\slash\nnew line")]
            second: u8,
            #[serde(rename = "")]
            empty: u8,
            #[serde(rename = "a_key_longer_than_twenty_four_bytes")]
            long: u8,
            #[serde(rename = "a key longer than 24 bytes, with a \" in it")]
            long_odd: u8,
        }
        /// A map with one float key (floats are not `Ord`).
        struct FloatKey(f64);
        impl Serialize for FloatKey {
            fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(&self.0, &1)?;
                m.end()
            }
        }
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            First,
            Second,
        }
        mod serde_bytes_like {
            pub struct Bytes(pub Vec<u8>);
            impl serde::Serialize for Bytes {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_bytes(&self.0)
                }
            }
        }
        same(&Outer {
            kind: "t\"y",
            odd_keys: OddKeys {
                first: 1,
                second: 2,
                empty: 3,
                long: 4,
                long_odd: 5,
            },
            ints: (-8, -16, -32, -64, -128, 8, 16, 32, 64, 128),
            extremes: (i64::MIN, u64::MAX, i128::MIN, u128::MAX),
            floats: (1.5, -0.0, f64::NAN, 1e300),
            inner: Inner { a: 1, b: None },
            none: None,
            unit: (),
            unit_struct: Unit,
            newtype: Newtype(7),
            tuple_struct: TupleStruct(1, -1),
            variants: vec![
                E::Unit,
                E::New(3),
                E::Tuple(4, "five".into()),
                E::Struct {
                    x: true,
                    y: vec![1, 2],
                },
            ],
            empty: Vec::new(),
            bytes: serde_bytes_like::Bytes(vec![0, 1, 255]),
            str_keys: [("k\n".to_string(), 1), (String::new(), 2)].into(),
            int_keys: [(-1, "a"), (10, "b")].into(),
            char_keys: [('x', true), ('"', false)].into(),
            bool_keys: [(true, 1), (false, 0)].into(),
            option_keys: [(Some(443), 1)].into(),
            variant_keys: [(Key::First, 1), (Key::Second, 2)].into(),
            float_keys: vec![(FloatKey(1.5), 1), (FloatKey(1e300), 2)],
        });
        // Keys serde_json refuses are refused here too.
        let refused: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(serde_json::to_vec(&refused).is_err());
        assert!(write(&mut Vec::new(), &refused).is_err());
        assert!(serde_json::to_vec(&FloatKey(f64::NAN)).is_err());
        assert!(write(&mut Vec::new(), &FloatKey(f64::NAN)).is_err());
    }
}
