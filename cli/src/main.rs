//! `hookrelay`: the command line for integrators and operators.

mod cmd_sign;
mod input;
mod sig_args;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hookrelay",
    version,
    about = "Webhook gateway on AWS serverless: sign, verify, send, publish, inspect, manage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the headers a scheme attaches to a body (for leanbe: the signed JSON body).
    Sign(cmd_sign::SignArgs),
    /// Check a body and its headers against a scheme; exit 0 when valid, 1 when not.
    Verify(cmd_sign::VerifyArgs),
    /// List the signature schemes, their format and which values are the platform's.
    Schemes,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => cmd_sign::sign(args),
        Command::Verify(args) => cmd_sign::verify(args),
        Command::Schemes => {
            cmd_sign::schemes();
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            ExitCode::from(2)
        }
    }
}
