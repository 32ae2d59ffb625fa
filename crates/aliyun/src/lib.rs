//! A thin, typed client for the Alibaba Cloud OpenAPI.
//!
//! ```text
//!   typed APIs (ecs, ess, cs, eci, slb, vpc)  ──▶  Client::rpc  ──▶  signer (pure)  ──▶  HTTP (reqwest)
//!        │                        │  ▲
//!        └── params (flattening)  │  └── retry (jittered backoff, x-acs-retry-after)
//!                                 ├── endpoint (per product/region, one override)
//!                                 └── credentials (explicit, env, files, STS)
//! ```
//!
//! The signer is pure and shared with the emulator (`aliyun-emu`), which verifies what this
//! client signs; the official Python SDKs keep both honest.

pub use aliyun_signer as signer;

pub mod client;
pub mod credentials;
pub mod cs;
pub mod eci;
pub mod ecs;
pub mod endpoint;
pub mod error;
pub mod ess;
pub mod params;
pub mod retry;
pub mod slb;
pub mod vpc;

pub use client::{Client, ClientBuilder};
pub use credentials::Credentials;
pub use endpoint::{Endpoints, Product};
pub use error::{Error, ErrorKind, Result};
