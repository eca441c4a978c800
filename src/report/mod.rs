//! stage: report
