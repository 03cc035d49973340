//! `hookrelay`: the command line for integrators and operators.

mod cmd_config;
mod cmd_queue;
mod cmd_send;
mod cmd_sign;
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
                  HOOKRELAY_SECRETS_PREFIX (default hookrelay) and HOOKRELAY_STATE_TABLE."
)]
struct Cli {
    /// Read settings from this file instead of .hookrelay/local.env.
    #[arg(long, global = true)]
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
    Endpoints(cmd_config::EndpointsCommand),
    /// Manage sources (platforms that send to /webhooks/NAME): add, list, show, update, rotate-key, delete.
    #[command(subcommand)]
    Sources(cmd_config::SourcesCommand),
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
                Command::Publish(args) => cmd_queue::publish(&ctx, args).await,
                Command::Queue(cmd) => cmd_queue::queue(&ctx, cmd).await,
                Command::Dlq(cmd) => cmd_queue::dlq(&ctx, cmd).await,
                Command::Endpoints(cmd) => cmd_config::endpoints(&ctx, cmd).await,
                Command::Sources(cmd) => cmd_config::sources(&ctx, cmd).await,
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
