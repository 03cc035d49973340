//! Signature work against the floor (bare HMAC-SHA256 over the same bytes)
//! and against the libraries users would otherwise pick. Criterion writes
//! its estimates under target/criterion; `bench/report.py` turns them into
//! BENCHMARKS.md tables.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};
use hookrelay_shared::schemes::{SCHEMES, Scheme, SchemeName, SignInput, SignatureConfig};
use std::hint::black_box;
use std::time::Duration;
use time::OffsetDateTime;

const SIZES: [(usize, &str); 3] = [(1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY: &str = "bench-secret-key-0123456789abcdef";

/// A JSON body of exactly `len` bytes (JSON so that every scheme, Leanbe
/// included, can take it).
fn body(len: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(br#"{"data":""#);
    while b.len() < len - 2 {
        b.push(b'a' + (b.len() % 26) as u8);
    }
    b.extend_from_slice(br#""}"#);
    b
}

fn config(scheme: SchemeName) -> SignatureConfig {
    let json = match scheme {
        SchemeName::StandardWebhooks => {
            format!(r#"{{"scheme":"standard-webhooks","keys":["{SW_SECRET}"]}}"#)
        }
        SchemeName::Leaddone => {
            format!(r#"{{"scheme":"leaddone","client_id":"c1","keys":["{KEY}"]}}"#)
        }
        SchemeName::Basic => r#"{"scheme":"basic","keys":["user:password"]}"#.to_string(),
        SchemeName::Token => r#"{"scheme":"token","keys":["Bearer token-value"]}"#.to_string(),
        s => format!(r#"{{"scheme":"{s}","keys":["{KEY}"]}}"#),
    };
    serde_json::from_str(&json).expect("bench config")
}

fn primitive(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitive");
    for (len, label) in SIZES {
        let b = body(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("hmac-sha256", label), &b, |bench, b| {
            bench.iter(|| {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes())
                    .expect("any key length");
                mac.update(black_box(b));
                black_box(mac.finalize().into_bytes())
            })
        });
    }
    g.finish();
}

fn schemes(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    for op in ["sign", "verify"] {
        let mut g = c.benchmark_group(op);
        for (len, label) in SIZES {
            let b = body(len);
            g.throughput(Throughput::Bytes(len as u64));
            for row in SCHEMES {
                let scheme = Scheme::compile(&config(row.name)).expect("compiles");
                let input = SignInput {
                    id: "msg_2Lp4bench",
                    at: now,
                    body: &b,
                    event_type: Some("idea.created"),
                };
                let signed = scheme.sign(&input).expect("signs");
                let sent = signed.body_or(&b).to_vec();
                match op {
                    "sign" => g.bench_with_input(
                        BenchmarkId::new(row.name.as_str(), label),
                        &b,
                        |bench, b| {
                            bench.iter(|| {
                                let input = SignInput {
                                    id: "msg_2Lp4bench",
                                    at: now,
                                    body: black_box(b),
                                    event_type: Some("idea.created"),
                                };
                                black_box(scheme.sign(&input).expect("signs"))
                            })
                        },
                    ),
                    _ => g.bench_with_input(
                        BenchmarkId::new(row.name.as_str(), label),
                        &sent,
                        |bench, sent| {
                            bench.iter(|| {
                                black_box(
                                    scheme
                                        .verify(&signed.headers, black_box(sent), now)
                                        .expect("verifies"),
                                )
                            })
                        },
                    ),
                };
            }
        }
        g.finish();
    }
}

/// The same Standard Webhooks request verified by hookrelay, the `svix`
/// crate, the `standardwebhooks` crate and `webhook-verify`.
fn versus_standard_webhooks(c: &mut Criterion) {
    let mut g = c.benchmark_group("vs-standard-webhooks");
    let scheme = Scheme::compile(&config(SchemeName::StandardWebhooks)).expect("compiles");
    let svix = svix::webhooks::Webhook::new(SW_SECRET).expect("svix secret");
    let sw = standardwebhooks::Webhook::new(SW_SECRET).expect("standardwebhooks secret");
    let wv_secret = webhook_verify::Secret::new(SW_SECRET);
    for (len, label) in SIZES {
        let b = body(len);
        g.throughput(Throughput::Bytes(len as u64));
        // Fresh timestamps: every library checks a 5-minute tolerance against now.
        let now = OffsetDateTime::now_utc();
        let signed = scheme
            .sign(&SignInput {
                id: "msg_2Lp4bench",
                at: now,
                body: &b,
                event_type: None,
            })
            .expect("signs");
        let mut map = http::HeaderMap::new();
        for (k, v) in &signed.headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let pairs: Vec<(String, String)> = signed.headers.clone();
        g.bench_with_input(BenchmarkId::new("hookrelay", label), &b, |bench, b| {
            bench.iter(|| {
                black_box(
                    scheme
                        .verify(&map, black_box(b), OffsetDateTime::now_utc())
                        .expect("verifies"),
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("svix", label), &b, |bench, b| {
            bench.iter(|| svix.verify(black_box(b), &map).expect("svix verifies"))
        });
        g.bench_with_input(
            BenchmarkId::new("standardwebhooks", label),
            &b,
            |bench, b| {
                bench.iter(|| {
                    sw.verify(black_box(b), &map)
                        .expect("standardwebhooks verifies")
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("webhook-verify", label), &b, |bench, b| {
            bench.iter(|| {
                webhook_verify::verify(
                    webhook_verify::Provider::StandardWebhooks,
                    &pairs,
                    black_box(b),
                    &wv_secret,
                    webhook_verify::VerifyOptions::default(),
                )
                .expect("webhook-verify verifies")
            })
        });
    }
    g.finish();
}

/// GitHub-style verification: there is no widely used crate for it
/// (octocrab does not verify); `webhook-verify` is measured for reference.
fn versus_github(c: &mut Criterion) {
    let mut g = c.benchmark_group("vs-github");
    let scheme = Scheme::compile(&config(SchemeName::Github)).expect("compiles");
    let wv_secret = webhook_verify::Secret::new(KEY);
    let now = OffsetDateTime::now_utc();
    for (len, label) in SIZES {
        let b = body(len);
        g.throughput(Throughput::Bytes(len as u64));
        let signed = scheme
            .sign(&SignInput {
                id: "x",
                at: now,
                body: &b,
                event_type: None,
            })
            .expect("signs");
        let pairs: Vec<(String, String)> = signed.headers.clone();
        g.bench_with_input(BenchmarkId::new("hookrelay", label), &b, |bench, b| {
            bench.iter(|| black_box(scheme.verify(&pairs, black_box(b), now).expect("verifies")))
        });
        g.bench_with_input(BenchmarkId::new("webhook-verify", label), &b, |bench, b| {
            bench.iter(|| {
                webhook_verify::verify(
                    webhook_verify::Provider::GitHub,
                    &pairs,
                    black_box(b),
                    &wv_secret,
                    webhook_verify::VerifyOptions::default(),
                )
                .expect("webhook-verify verifies")
            })
        });
    }
    g.finish();
}

fn criterion() -> Criterion {
    // Short runs: ~100 benchmarks must fit `make bench`'s time budget; the
    // report quotes criterion's median with its confidence interval.
    Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = primitive, schemes, versus_standard_webhooks, versus_github
}
criterion_main!(benches);
