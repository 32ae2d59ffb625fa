//! Bad input never panics the emulator, never answers 5xx (no faults are injected here), always
//! answers Alibaba's JSON error shape, and never changes state unless it was a valid call.

use crate::support::{KEY_ID, KEY_SECRET, config};
use aliyun_emu::Emulator;
use aliyun_signer::{SignableRequest, percent_encode, sha256_hex, v3};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::ServiceExt;

const ACTIONS: &[(&str, &str)] = &[
    ("DescribeInstances", "2014-05-26"),
    ("RunInstances", "2014-05-26"),
    ("DeleteInstances", "2014-05-26"),
    ("DescribePrice", "2014-05-26"),
    ("DescribeInstanceTypes", "2014-05-26"),
    ("DescribeZones", "2014-05-26"),
    ("CreateScalingGroup", "2022-02-22"),
    ("CreateScalingConfiguration", "2022-02-22"),
    ("ScaleWithAdjustment", "2022-02-22"),
    ("RemoveInstances", "2022-02-22"),
    ("DescribeScalingGroups", "2014-08-28"),
    ("DescribeScalingInstances", "2014-08-28"),
    ("ModifyScalingGroup", "2014-08-28"),
    ("ExecuteScalingRule", "2014-08-28"),
    ("NoSuchAction", "2022-02-22"),
    ("DescribeRegions", "1999-01-01"),
];

const PARAM_NAMES: &[&str] = &[
    "RegionId",
    "ZoneId",
    "InstanceType",
    "ImageId",
    "Amount",
    "MinAmount",
    "InstanceIds",
    "InstanceId.1",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "VSwitchIds.1",
    "ScalingGroupId",
    "ScalingGroupId.1",
    "AdjustmentType",
    "AdjustmentValue",
    "PageNumber",
    "PageSize",
    "MaxResults",
    "NextToken",
    "Tags",
    "Tag.1.Key",
    "ClientToken",
    "Force",
    "SpotStrategy",
    "PriceUnit",
    "ScalingRuleAri",
    "InstanceTypes.1",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("cn-hangzhou".to_owned()),
        Just("ecs.g7.large".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("[\"i-1\",".to_owned()),
        Just("{\"a\":1}".to_owned()),
        Just("TotalCapacity".to_owned()),
        "[0-9]{1,4}",
        any::<String>(),
    ]
}

async fn send(emulator: &Emulator, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = emulator
        .router()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("non-JSON reply ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn unsigned_garbage_gets_a_4xx_json_error_and_changes_nothing(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        query in "[a-zA-Z0-9%+&=.~*_\\-\\[\\]\"{}]{0,80}",
        headers in prop::collection::vec((prop::sample::select(vec!["authorization", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "content-type", "x-acs-security-token"]), "[ -~]{0,60}"), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let emulator = Emulator::new(config(), aliyun_emu::SystemClock).unwrap();
        let before = emulator.snapshot();
        let mut builder = Request::builder().method(method).uri(format!("/?{query}"));
        for (name, value) in &headers {
            builder = builder.header(*name, value.as_str());
        }
        let Ok(request) = builder.body(Body::from(body)) else { return Ok(()) };
        let (status, json) = runtime().block_on(send(&emulator, request));
        prop_assert!(status.is_client_error(), "{status} {json}");
        for key in ["Code", "Message", "RequestId", "HostId", "Recommend"] {
            prop_assert!(json.get(key).and_then(|v| v.as_str()).is_some_and(|v| !v.is_empty()), "missing {key}: {json}");
        }
        prop_assert!(emulator.snapshot() == before);
    }

    #[test]
    fn signed_requests_with_garbage_parameters_never_fail_on_the_server(
        action in prop::sample::select(ACTIONS.to_vec()),
        params in prop::collection::vec((prop::sample::select(PARAM_NAMES.to_vec()), value()), 0..8),
    ) {
        let emulator = Emulator::new(config(), aliyun_emu::SystemClock).unwrap();
        let query: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let headers: Vec<(String, String)> = [
            ("host", "127.0.0.1"),
            ("x-acs-action", action.0),
            ("x-acs-version", action.1),
            ("x-acs-date", &jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("x-acs-signature-nonce", &format!("{:032x}", rand::random::<u128>())),
            ("x-acs-content-sha256", &sha256_hex(b"")),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signable = SignableRequest { method: "POST", path: "/", query: &query, headers: &headers, body: b"" };
        let authorization = v3::authorization(&signable, KEY_ID, KEY_SECRET);
        let wire: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        let mut builder = Request::post(format!("/?{}", wire.join("&"))).header("authorization", authorization);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let (status, json) = runtime().block_on(send(&emulator, builder.body(Body::empty()).unwrap()));
        prop_assert!(!status.is_server_error(), "{status} {json}");
        prop_assert!(json.get("RequestId").is_some(), "{json}");
        if !status.is_success() {
            prop_assert!(json["Code"].as_str().is_some_and(|c| c != "SignatureDoesNotMatch"), "{json}");
        }
    }
}
