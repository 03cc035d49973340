//! `hookrelay`: the command line for integrators and operators.

mod cmd_env;
mod cmd_queue;
mod cmd_send;
mod cmd_sign;
mod config;
mod context;
mod dev;
mod input;
mod sig_args;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hookrelay",
    version,
    about = "Webhook gateway on AWS serverless: sign, verify, send, publish, inspect queues, run the pipeline locally.",
    after_help = "Commands that talk to a pipeline read .hookrelay/local.env (written by `make dev`) when it exists, \
                  else the usual AWS environment (AWS_REGION, credentials) and the queue URLs \
                  INBOUND_QUEUE_URL, OUTBOUND_QUEUE_URL, EVENTS_QUEUE_URL and their *_DLQ_URL, \
                  HOOKRELAY_SECRETS_PREFIX (default hookrelay) and HOOKRELAY_STATE_TABLE. \
                  For a deployed stack, `hookrelay env --stack NAME -o FILE` writes them to FILE."
)]
struct Cli {
    /// Read settings from this file instead of .hookrelay/local.env (e.g. the
    /// one `hookrelay env --stack NAME -o FILE` writes).
    #[arg(long, global = true, env = "HOOKRELAY_ENV_FILE")]
    env_file: Option<PathBuf>,
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
    /// Sign a webhook as a platform would and POST it; prints the status and answer.
    Send(cmd_send::SendArgs),
    /// Put a delivery job (--endpoint) or an event (fan-out) on its queue.
    Publish(cmd_queue::PublishArgs),
    /// Look at or empty a queue.
    #[command(subcommand)]
    Queue(cmd_queue::QueueCommand),
    /// Look at parked (dead-lettered) messages, or send them back to their queue.
    #[command(subcommand)]
    Dlq(cmd_queue::DlqCommand),
    /// Manage subscriber endpoints: add, list, show, update, disable, enable, rotate-key, delete.
    #[command(subcommand)]
    Endpoints(config::endpoints::EndpointsCommand),
    /// Manage sources (platforms that send to /webhooks/NAME): add, list, show, update, rotate-key, delete.
    #[command(subcommand)]
    Sources(config::sources::SourcesCommand),
    /// Write the settings of a deployed stack (its CloudFormation outputs) for the other commands.
    Env(cmd_env::EnvArgs),
    /// Run the whole pipeline on this machine (`make dev`).
    #[command(subcommand)]
    Dev(dev::DevCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => cmd_sign::sign(args),
        Command::Verify(args) => cmd_sign::verify(args),
        Command::Schemes => {
            cmd_sign::schemes();
            Ok(ExitCode::SUCCESS)
        }
        Command::Send(args) => cmd_send::send(args).await,
        Command::Dev(cmd) => dev::run(cmd).await,
        command => match context::Context::load(cli.env_file.as_deref()) {
            Err(e) => Err(e),
            Ok(ctx) => match command {
                Command::Env(args) => cmd_env::env(&ctx, args).await,
                Command::Publish(args) => cmd_queue::publish(&ctx, args).await,
                Command::Queue(cmd) => cmd_queue::queue(&ctx, cmd).await,
                Command::Dlq(cmd) => cmd_queue::dlq(&ctx, cmd).await,
                Command::Endpoints(cmd) => config::endpoints::run(&ctx, cmd).await,
                Command::Sources(cmd) => config::sources::run(&ctx, cmd).await,
                _ => unreachable!("handled above"),
            },
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every subcommand and every argument of `cmd` and below that has no
    /// help text, as "path arg".
    fn without_help(
        cmd: &clap::Command,
        path: &str,
        missing: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            // clap's own --help and --version.
            if matches!(id, "help" | "version") {
                continue;
            }
            seen.push(format!("{path} {id}"));
            let has = |h: Option<&clap::builder::StyledStr>| {
                h.is_some_and(|h| !h.to_string().trim().is_empty())
            };
            if !has(arg.get_help()) && !has(arg.get_long_help()) {
                missing.push(format!("{path}: argument {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            seen.push(sub_path.clone());
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                missing.push(format!("{sub_path}: no description"));
            }
            without_help(sub, &sub_path, missing, seen);
        }
    }

    #[test]
    fn every_subcommand_and_argument_has_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let (mut missing, mut seen) = (Vec::new(), Vec::new());
        without_help(&cmd, "hookrelay", &mut missing, &mut seen);
        // The walk reaches the leaves (so an empty `missing` means something).
        for must in [
            "hookrelay endpoints add url",
            "hookrelay endpoints add header_name",
            "hookrelay sources delete force",
            "hookrelay sources rotate-key client",
            "hookrelay queue peek queue",
            "hookrelay dev up moto_port",
        ] {
            assert!(seen.iter().any(|s| s == must), "{must} not visited");
        }
        assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
