//! stage: source
