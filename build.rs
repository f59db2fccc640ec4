//! Bind the binary to the CPython it was built against: record its version and prefix for
//! `--version` and the start-up check, and set an rpath to its libpython's folder so the
//! loader does not pick another libpython of the same soname (Debian's, say).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{lib_dir}");
        println!("cargo:rustc-env=HERMETIC_PYTHON_LIBDIR={lib_dir}");
    }
    // The executable's open functions must be in its dynamic symbol table to come before
    // libc's for libpython (src/main.rs, src/host/opens.rs).
    for name in [
        "open",
        "open64",
        "openat",
        "openat64",
        "__open_2",
        "__open64_2",
        "__openat_2",
        "__openat64_2",
    ] {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={name}");
    }
    let mut version = format!("{}.{}", config.version().major, config.version().minor);
    let mut prefix = String::from("unknown");
    if let Some(executable) = config.executable() {
        let probe = Command::new(executable)
            .args([
                "-I",
                "-c",
                "import sys; print(sys.version.split()[0]); print(sys.base_prefix)",
            ])
            .output();
        if let Ok(out) = probe {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines = text.lines();
            if let (Some(v), Some(p)) = (lines.next(), lines.next()) {
                version = v.trim().to_string();
                prefix = p.trim().to_string();
            }
        }
    }
    println!("cargo:rustc-env=HERMETIC_PYTHON_VERSION={version}");
    println!("cargo:rustc-env=HERMETIC_PYTHON_PREFIX={prefix}");
}
