//! Lambda entry point: build the clients once, then serve requests.

use hookrelay_shared::aws::{env_required, sdk_config};
use lambda_http::{Error, service_fn};
use receiver::{Receiver, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let config = sdk_config().await;
    let receiver = Receiver::from_clients(
        aws_sdk_sqs::Client::new(&config),
        aws_sdk_secretsmanager::Client::new(&config),
        env_required("HOOKRELAY_INBOUND_QUEUE_URL")?,
        std::env::var("HOOKRELAY_EVENTS_QUEUE_URL")
            .ok()
            .filter(|v| !v.is_empty()),
        settings,
    );
    let receiver = &receiver;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(receiver.handle(req).await)
    }))
    .await
}
