//! placeholder: filled by the inspect work (issue 5).
