//! The `hermetic-python` executable: hand the command line to the library, exit with its code.

fn main() {
    let code = hermetic::main_with_args(std::env::args_os().collect());
    std::process::exit(code);
}
