//! stage: checks
