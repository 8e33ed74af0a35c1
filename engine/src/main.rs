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
            cli::secrets::print_err(&format!("{} (see --help)\n", first_line(&rendered)));
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

/// Clap's error in one line: its first line, with the list that follows it when it
/// ends in a colon ("the following required arguments were not provided:").
fn first_line(rendered: &str) -> String {
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else { return "error: invalid arguments".into() };
    if !first.ends_with(':') {
        return first.to_string();
    }
    let listed: Vec<&str> = lines.take_while(|l| l.starts_with("  ")).map(str::trim).collect();
    format!("{first} {}", listed.join(", "))
}
