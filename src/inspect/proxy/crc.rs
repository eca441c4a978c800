//! CRC32C (Castagnoli) check of a PROXY v2 header, as `HAProxy` does it on receipt: the CRC covers
//! the whole header (16 + declared length) with the 4 value bytes of the CRC32C TLV set to zero,
//! and the stored value is big-endian.
//!
//! Never panics: every slice is taken with `get`.

/// Length of a CRC32C TLV value.
pub const LEN: usize = 4;

/// CRC32C of `header` computed as if the 4 bytes at `value_offset` were zero.
/// `None` when those 4 bytes are not inside `header`.
pub fn compute(header: &[u8], value_offset: usize) -> Option<u32> {
    let before = header.get(..value_offset)?;
    let after = header.get(value_offset.checked_add(LEN)?..)?;
    let crc = crc32c::crc32c(before);
    let crc = crc32c::crc32c_append(crc, &[0; LEN]);
    Some(crc32c::crc32c_append(crc, after))
}

/// The stored (big-endian) value at `value_offset`.
pub fn stored(header: &[u8], value_offset: usize) -> Option<u32> {
    let bytes = header.get(value_offset..value_offset.checked_add(LEN)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}
