//! Lambda entry point: build the clients once, then serve SQS batches.

use aws_lambda_events::event::sqs::SqsEvent;
use hookrelay_shared::aws::sdk_config;
use hookrelay_shared::env::Env;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sender::{Sender, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_env(&Env::process())?;
    let config = sdk_config().await;
    let sender = Sender::from_config(&config, settings)?;
    let sender = &sender;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // Lambda stops the invocation at its deadline: attempts that could
        // not be settled before it are not started.
        let deadline = time::OffsetDateTime::from(event.context.deadline());
        Ok::<_, Error>(sender.handle_until(event.payload, deadline).await)
    }))
    .await
}
