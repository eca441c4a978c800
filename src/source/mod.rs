//! stage: source

pub mod writer;
