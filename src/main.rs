//! The `hermetic-python` executable: hand the command line to the library, exit with its code.
//!
//! `no_main`: Rust's usual start-up opens `/dev/null` on any of fds 0-2 that is closed;
//! python does not, and a script may rely on a closed stdin staying closed (CPython's own
//! tests do). Starting from C's `main` keeps the descriptors as the parent left them.

#![no_main]

use std::ffi::{c_char, c_int};

#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    opens::register();
    // std still reads argv on Linux without its start-up (glibc passes it to initialisers).
    hermetic::main_with_args(std::env::args_os().collect())
}

/// libc's open functions, defined here so that libpython's calls (and those of extension
/// modules) come to the host first; see `hermetic::host::opens`. Linux on x86-64 and
/// AArch64 only: there a variadic `mode` is passed exactly as a third fixed argument, so
/// these plain definitions receive it (and ignore it when the flags need none).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod opens {
    use std::ffi::{c_char, c_int, c_uint};

    use hermetic::host::opens::{open_at, AT_FDCWD};

    /// # Safety
    /// As libc's `open`: `path` is NUL-terminated.
    #[no_mangle]
    pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(AT_FDCWD, path, flags, mode) }
    }

    /// # Safety
    /// As libc's `open64`.
    #[no_mangle]
    pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(AT_FDCWD, path, flags, mode) }
    }

    /// # Safety
    /// As libc's `openat`.
    #[no_mangle]
    pub unsafe extern "C" fn openat(
        dirfd: c_int,
        path: *const c_char,
        flags: c_int,
        mode: c_uint,
    ) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(dirfd, path, flags, mode) }
    }

    /// # Safety
    /// As libc's `openat64`.
    #[no_mangle]
    pub unsafe extern "C" fn openat64(
        dirfd: c_int,
        path: *const c_char,
        flags: c_int,
        mode: c_uint,
    ) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(dirfd, path, flags, mode) }
    }

    /// The fortified two-argument forms (`_FORTIFY_SOURCE`), which never take a mode.
    ///
    /// # Safety
    /// As libc's `__open_2`.
    #[no_mangle]
    pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(AT_FDCWD, path, flags, 0) }
    }

    /// # Safety
    /// As libc's `__open64_2`.
    #[no_mangle]
    pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(AT_FDCWD, path, flags, 0) }
    }

    /// # Safety
    /// As libc's `__openat_2`.
    #[no_mangle]
    pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(dirfd, path, flags, 0) }
    }

    /// # Safety
    /// As libc's `__openat64_2`.
    #[no_mangle]
    pub unsafe extern "C" fn __openat64_2(
        dirfd: c_int,
        path: *const c_char,
        flags: c_int,
    ) -> c_int {
        // SAFETY: caller contract forwarded.
        unsafe { open_at(dirfd, path, flags, 0) }
    }

    /// Tell the library which functions are ours, so start-up can check the dynamic
    /// linker binds them.
    pub fn register() {
        use hermetic::host::opens::register;
        register(c"open", open as *const () as usize);
        register(c"open64", open64 as *const () as usize);
        register(c"openat", openat as *const () as usize);
        register(c"openat64", openat64 as *const () as usize);
        register(c"__open_2", __open_2 as *const () as usize);
        register(c"__open64_2", __open64_2 as *const () as usize);
        register(c"__openat_2", __openat_2 as *const () as usize);
        register(c"__openat64_2", __openat64_2 as *const () as usize);
    }
}
