//! Helpers: an emulator on a loopback port and a client pointed at it.

use aliyun::retry::RetryPolicy;
use aliyun::{Client, Credentials};
use aliyun_emu::{Clock, Config, Emulator, InstanceTiming, Settings, SystemClock};
use std::time::Duration;

pub const KEY_ID: &str = "testid";
pub const KEY_SECRET: &str = "testsecret";
pub const IMAGE: &str = "aliyun_3_x64_20G_alibase_20240819.vhd";

/// A config accepting `testid:testsecret`, with instances Running at once.
pub fn config() -> Config {
    Config {
        access_keys: vec![
            format!("{KEY_ID}:{KEY_SECRET}").parse().unwrap(),
            "reader:readersecret:readonly".parse().unwrap(),
        ],
        settings: Settings {
            timing: InstanceTiming::default(),
            kube: kube_emu::Timing::instant(),
            ..Settings::default()
        },
        ..Config::default()
    }
}

/// Serves `emulator` on a free loopback port; returns its base URL.
pub async fn serve(emulator: &Emulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let emulator = emulator.clone();
    tokio::spawn(async move { emulator.serve(listener).await });
    url
}

/// An emulator with `config` on the wall clock, served; returns it and its URL.
pub async fn start(config: Config) -> (Emulator, String) {
    start_with_clock(config, SystemClock).await
}

pub async fn start_with_clock(config: Config, clock: impl Clock) -> (Emulator, String) {
    let emulator = Emulator::new(config, clock).unwrap();
    let url = serve(&emulator).await;
    (emulator, url)
}

/// A client for `url` with the test key, retrying quickly.
pub fn client(url: &str) -> Client {
    client_with(url, Credentials::new(KEY_ID, KEY_SECRET))
}

pub fn client_with(url: &str, credentials: Credentials) -> Client {
    Client::builder()
        .credentials(credentials)
        .region("cn-hangzhou")
        .endpoint(url)
        .retry(RetryPolicy {
            max_attempts: 12,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        })
        .build()
        .unwrap()
}
