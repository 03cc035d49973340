//! Lambda entry point: build the clients once, then serve requests.

use hookrelay_shared::aws::sdk_config;
use hookrelay_shared::env::Env;
use lambda_http::{Error, service_fn};
use receiver::{Receiver, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env(&Env::process())?;
    let config = sdk_config().await;
    let receiver = Receiver::from_config(&config, settings)?;
    let receiver = &receiver;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(receiver.handle(req).await)
    }))
    .await
}
