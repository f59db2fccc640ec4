//! The `hermetic-python` executable: hand the command line to the library, exit with its code.
//!
//! `no_main`: Rust's usual start-up opens `/dev/null` on any of fds 0-2 that is closed;
//! python does not, and a script may rely on a closed stdin staying closed (CPython's own
//! tests do). Starting from C's `main` keeps the descriptors as the parent left them.

#![no_main]

use std::ffi::{c_char, c_int};

#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // std still reads argv on Linux without its start-up (glibc passes it to initialisers).
    hermetic::main_with_args(std::env::args_os().collect())
}
