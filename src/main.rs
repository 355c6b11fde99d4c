//! The `vigie` command line: a thin edge over the library (see `cli`).

fn main() -> std::process::ExitCode {
    vigie::cli::main()
}
