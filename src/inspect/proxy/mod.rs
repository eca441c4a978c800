//! placeholder: filled by the PROXY inspect work (issue 5).
