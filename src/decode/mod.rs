//! stage: decode
