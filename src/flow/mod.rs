//! stage: flow
