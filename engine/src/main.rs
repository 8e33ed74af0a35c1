use std::process::ExitCode;

use clap::Parser;
use forge::cli::{self, Cli};

// Generation allocates many small strings and maps; mimalloc halves the time the
// system allocator spends on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything is parsed or printed: every line written is scrubbed of them.
    cli::secrets::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            cli::secrets::print_out(&e.render().to_string());
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            cli::secrets::print_err(&e.render().to_string());
            return ExitCode::from(2);
        }
        Err(e) => {
            // One line: clap's own first line names the flag and the problem.
            let rendered = e.render().to_string();
            let line = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: invalid arguments");
            cli::secrets::print_err(&format!("{line} (see --help)\n"));
            return ExitCode::from(2);
        }
    };
    cli::log::init();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::secrets::print_err(&format!("error: {e}\n"));
            ExitCode::from(e.exit_code())
        }
    }
}
