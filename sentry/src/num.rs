//! Integer conversions between the kernel's C types and the sentry's,
//! where `as` would hide a narrowing or a change of sign. Each helper is
//! the one place its conversion is decided.

/// A u64 length or offset as usize (x86-64: lossless).
#[allow(clippy::cast_possible_truncation)]
pub const fn usize_of(v: u64) -> usize {
    v as usize
}

/// A signed value's two's-complement bits as unsigned (how the kernel
/// stores a signed value in an unsigned field or register).
#[allow(clippy::cast_sign_loss)]
pub const fn bits(v: i64) -> u64 {
    v as u64
}

/// An unsigned value's bits as signed (a register or field the kernel
/// declares signed).
#[allow(clippy::cast_possible_wrap)]
pub const fn sbits(v: u64) -> i64 {
    v as i64
}

/// An `int`'s bits in an unsigned 32-bit field.
#[allow(clippy::cast_sign_loss)]
pub const fn ubits32(v: i32) -> u32 {
    v as u32
}

/// A 32-bit field's bits as the `int` the kernel declares it.
#[allow(clippy::cast_possible_wrap)]
pub const fn sbits32(v: u32) -> i32 {
    v as i32
}

/// A register's low 32 bits as the `int` argument the kernel declares:
/// the system call ABI's own truncation.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
pub const fn low_int(v: u64) -> i32 {
    v as u32 as i32
}

/// An unsigned count the sentry keeps, as a signed field, saturating.
pub fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A length as an `int`, saturating.
pub fn saturating_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A value that cannot be negative here (a host call's result after its
/// error check, a size), as unsigned; 0 if it ever were.
pub fn nonneg(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A host call's byte count after its error check, as usize; 0 if it
/// were ever negative.
pub fn count(v: isize) -> usize {
    usize::try_from(v).unwrap_or(0)
}

/// A length as a signed 64-bit field, saturating.
pub fn len_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A length or index as a 32-bit field, saturating.
pub fn len_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A signal number (already checked to be 1..=64) as its table slot.
pub fn sig_index(sig: i32) -> usize {
    usize::try_from(sig.clamp(1, 64) - 1).unwrap_or(0)
}

/// A non-negative difference for 128-bit arithmetic; 0 if negative.
pub fn wide(v: i64) -> u128 {
    u128::try_from(v).unwrap_or(0)
}

/// A 128-bit result as u64, saturating.
pub fn narrow(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A 128-bit result as i64, saturating.
pub fn narrow_i64(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
