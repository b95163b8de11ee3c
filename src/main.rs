//! The `fulfil` binary: parse the command line and hand over to the library.
//!
//! Everything else lives in the library so that tests can run commands in-process.

fn main() -> std::process::ExitCode {
    fulfil::main()
}
