//! The one place hermetic writes about blocked actions: `--trace` lines on stderr and the
//! trace file. A line is `hermetic: blocked <capability> <detail> (<reason>)`; it never
//! holds argv or environment values.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::capability::{Denial, Reason};

struct Sink {
    stderr: bool,
    file: Option<Mutex<File>>,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Set while the `site` module runs the installation's start-up code (`.pth` files,
/// `sitecustomize`, `usercustomize`): its refusals are marked, so they are not taken for
/// the target's.
static IN_SITE: AtomicBool = AtomicBool::new(false);

/// What a trace line ends with for a refusal made while `site` runs.
pub const SITE_MARK: &str = " [site start-up]";

/// Mark (or stop marking) refusals as made by `site`'s start-up code.
pub fn set_in_site(in_site: bool) {
    IN_SITE.store(in_site, Ordering::SeqCst);
}

/// Configure where trace lines go. Called once, before the hook is armed.
pub fn configure(stderr: bool, file: Option<File>) {
    let _ = SINK.set(Sink {
        stderr,
        file: file.map(Mutex::new),
    });
}

/// Report a blocked action (before the exception is raised, so a caught exception still
/// leaves a line).
pub fn blocked(denial: &Denial) {
    if denial.reason == Reason::BytecodeCache {
        return;
    }
    let Some(sink) = SINK.get() else { return };
    if !sink.stderr && sink.file.is_none() {
        return;
    }
    let mark = if IN_SITE.load(Ordering::Relaxed) {
        SITE_MARK
    } else {
        ""
    };
    let line = format!("hermetic: {}{mark}\n", denial.line());
    if sink.stderr {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    if let Some(file) = &sink.file {
        let mut guard = match file.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = guard.write_all(line.as_bytes());
    }
}
