//! The HTTP client ignores proxy variables: a proxy resolves the name
//! itself, past the network guard. Its own test binary, because it sets
//! process environment variables that every client built afterwards reads.

use hookrelay_shared::outbound::{HttpRequest, NetworkPolicy, ReqwestTransport, Transport};
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use std::time::Duration;

#[tokio::test]
async fn proxy_variables_cannot_route_around_the_network_guard() {
    // A "proxy" on loopback that would answer 200 to whatever it is sent.
    let proxy = TestEndpoint::start().await;
    proxy.set_default(Reply::ok());
    let proxy_url = format!("http://{}", proxy.addr());
    // SAFETY: this binary has this one test, and nothing else runs or reads
    // the environment while it is set (the runtime's only thread is this one).
    unsafe {
        for (k, v) in [("HTTP_PROXY", &proxy_url), ("HTTPS_PROXY", &proxy_url)] {
            std::env::set_var(k, v);
            std::env::set_var(k.to_ascii_lowercase(), v);
        }
        for k in ["NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::remove_var(k);
        }
    }
    let transport = ReqwestTransport::new(NetworkPolicy::public_only()).unwrap();
    // A name that resolves to loopback only: the guard must refuse it. Sent
    // through the proxy, it would never be resolved here at all.
    let outcome = transport
        .post(HttpRequest {
            url: "http://localhost:9/internal".parse().unwrap(),
            headers: vec![],
            body: b"{}".to_vec(),
            timeout: Duration::from_secs(5),
        })
        .await;
    assert!(proxy.requests().is_empty(), "the proxy was used");
    let err = outcome.unwrap_err();
    assert_eq!(err.label(), "refused", "{err}");
}
