//! The signer's cost per request: what a client pays to sign and the emulator to verify.

use aliyun_signer::{SignableRequest, form_decode, rpc_v1, v3};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn signing(c: &mut Criterion) {
    let query = pairs(&[
        ("RegionId", "cn-hangzhou"),
        ("PageSize", "10"),
        ("InstanceIds", r#"["i-bp1a","i-bp1b","i-bp1c"]"#),
    ]);
    let headers = pairs(&[
        ("accept", "application/json"),
        ("host", "127.0.0.1:9100"),
        ("user-agent", "ackctl/0.1.0"),
        ("x-acs-action", "DescribeInstances"),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", "d41d8cd98f00b204e9800998ecf8427e"),
        ("x-acs-version", "2014-05-26"),
    ]);
    let req = SignableRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let header = v3::authorization(&req, "testid", "testsecret");

    c.bench_function("v3 sign DescribeInstances", |b| {
        b.iter(|| v3::authorization(black_box(&req), "testid", "testsecret"))
    });
    c.bench_function("v3 parse + verify DescribeInstances", |b| {
        b.iter(|| {
            let auth = v3::parse_authorization(black_box(&header)).expect("valid header");
            assert!(v3::verify(&req, &auth, "testsecret"));
        })
    });
    c.bench_function("rpc v1 sign DescribeInstances", |b| {
        b.iter(|| rpc_v1::signature("POST", black_box(&query), "testsecret"))
    });
    c.bench_function("form_decode a 6-parameter query", |b| {
        b.iter(|| form_decode(black_box("RegionId=cn-hangzhou&PageSize=10&InstanceIds=%5B%22i-bp1a%22%5D&Action=DescribeInstances&Version=2014-05-26&Format=JSON")))
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
