//! hermetic-python: a drop-in `python` whose process carries a capability policy.
//!
//! `main.rs` only parses the command line and maps the result to an exit code; everything
//! else lives here so tests and future front ends can call it.

pub mod policy;
