use std::process::ExitCode;

fn main() -> ExitCode {
    lbcheck::run::main()
}
