//! Which product speaks which API version, and which host serves it in a region.
//!
//! ```text
//!   (Product, region) ──▶ override base URL set?  ── yes ──▶ that URL, for every product
//!                                  │                         (the emulator: http://127.0.0.1:9100)
//!                                  no
//!                                  ▼
//!                         https://<the product's regional or central host>   (research §4)
//! ```
//!
//! The override comes from [`ClientBuilder::endpoint`](crate::ClientBuilder::endpoint) or the
//! environment variable [`ENDPOINT_ENV`]; it is the one switch between the emulator and the
//! real cloud.

use std::fmt;

use reqwest::Url;

use crate::error::{Error, Result};

/// The environment variable that routes every product to one base URL.
pub const ENDPOINT_ENV: &str = "ACKCTL_ALIBABA_ENDPOINT";

/// The Alibaba Cloud products ackctl talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Product {
    Ecs,
    Ess,
    Cs,
    Eci,
    Slb,
    Vpc,
    Sts,
}

impl Product {
    pub const ALL: [Self; 7] = [
        Self::Ecs,
        Self::Ess,
        Self::Cs,
        Self::Eci,
        Self::Slb,
        Self::Vpc,
        Self::Sts,
    ];

    /// The product code, as it appears in host names.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Ess => "ess",
            Self::Cs => "cs",
            Self::Eci => "eci",
            Self::Slb => "slb",
            Self::Vpc => "vpc",
            Self::Sts => "sts",
        }
    }

    /// The API version this client speaks (sent as `x-acs-version`). ESS is the 2022-02-22
    /// version of the current SDKs, not cluster-autoscaler's 2014-08-28.
    pub fn version(self) -> &'static str {
        match self {
            Self::Ecs => "2014-05-26",
            Self::Ess => "2022-02-22",
            Self::Cs => "2015-12-15",
            Self::Eci => "2018-08-08",
            Self::Slb => "2014-05-15",
            Self::Vpc => "2016-04-28",
            Self::Sts => "2015-04-01",
        }
    }

    /// The public host for `region`, following the SDKs' endpoint maps.
    fn host(self, region: &str) -> String {
        // ESS and SLB kept their central host for the regions that existed when they launched.
        const CENTRAL_REGIONS: [&str; 9] = [
            "cn-qingdao",
            "cn-beijing",
            "cn-hangzhou",
            "cn-shanghai",
            "cn-shenzhen",
            "cn-hongkong",
            "ap-southeast-1",
            "us-east-1",
            "us-west-1",
        ];
        let code = self.code();
        match self {
            // A legacy map entry the SDK still uses.
            Self::Ecs if region == "cn-hangzhou" => "ecs-cn-hangzhou.aliyuncs.com".to_owned(),
            Self::Ess | Self::Slb if CENTRAL_REGIONS.contains(&region) => {
                format!("{code}.aliyuncs.com")
            }
            // The ECI SDK has neither a map nor a regional rule.
            Self::Eci | Self::Sts => format!("{code}.aliyuncs.com"),
            Self::Ecs | Self::Ess | Self::Slb | Self::Cs | Self::Vpc => {
                format!("{code}.{region}.aliyuncs.com")
            }
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Where a request goes: the base URL (no trailing slash) and the `host` header to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://authority`, e.g. `https://ecs.cn-beijing.aliyuncs.com`.
    pub base: String,
    /// The authority of `base`, e.g. `127.0.0.1:9100`.
    pub host: String,
}

/// Endpoint resolution for every product, with an optional override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    override_base: Option<Endpoint>,
    /// The override points at this machine (the emulator, usually).
    loopback: bool,
}

impl Endpoints {
    /// The public Alibaba Cloud endpoints.
    pub fn public() -> Self {
        Self::default()
    }

    /// Routes every product to `base` (e.g. `http://127.0.0.1:9100`), after validating it.
    pub fn with_override(base: &str) -> Result<Self> {
        let (endpoint, loopback) = parse_base(base)?;
        Ok(Self {
            override_base: Some(endpoint),
            loopback,
        })
    }

    /// Public endpoints unless [`ENDPOINT_ENV`] names an override.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// As [`Endpoints::from_env`], with an injected environment.
    pub fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        match env(ENDPOINT_ENV).filter(|v| !v.trim().is_empty()) {
            Some(base) => Self::with_override(base.trim()),
            None => Ok(Self::public()),
        }
    }

    /// The override base URL, if any.
    pub fn override_base(&self) -> Option<&str> {
        self.override_base.as_ref().map(|e| e.base.as_str())
    }

    /// Whether the override points at this machine, where a proxy from the environment
    /// (`HTTP_PROXY`…) would only get in the way.
    pub fn is_loopback_override(&self) -> bool {
        self.loopback
    }

    /// Where `product` is served for `region`.
    pub fn resolve(&self, product: Product, region: &str) -> Result<Endpoint> {
        if let Some(endpoint) = &self.override_base {
            return Ok(endpoint.clone());
        }
        validate_region(region)?;
        let host = product.host(region);
        Ok(Endpoint {
            base: format!("https://{host}"),
            host,
        })
    }
}

/// A region ID becomes part of a host name, so it must look like one (`cn-hangzhou`).
pub(crate) fn validate_region(region: &str) -> Result<()> {
    let well_formed = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "invalid region {region:?}: expected an Alibaba Cloud region ID such as cn-hangzhou"
        )))
    }
}

/// The endpoint of an override base URL, and whether it is a loopback address.
fn parse_base(raw: &str) -> Result<(Endpoint, bool)> {
    let invalid = |reason: &str| Error::InvalidEndpoint {
        endpoint: raw.to_owned(),
        reason: reason.to_owned(),
    };
    // `localhost:9100` parses as a URL whose scheme is "localhost"; say what we expect instead.
    if !raw.contains("://") {
        return Err(invalid(
            "expected a base URL with a scheme, e.g. http://127.0.0.1:9100",
        ));
    }
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("the URL has no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in the endpoint URL"));
    }
    // The signature covers the path, and requests go to `/`; a prefix would silently break both.
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "expected only scheme, host and port (no path, query or fragment)",
        ));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // `port()` is None for the scheme's default port, matching the Host header HTTP clients send.
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let endpoint = Endpoint {
        base: format!("{}://{host}", url.scheme()),
        host,
    };
    Ok((endpoint, loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(product: Product, region: &str) -> String {
        Endpoints::public()
            .resolve(product, region)
            .expect("valid region")
            .base
    }

    #[test]
    fn public_endpoints_follow_the_sdk_maps() {
        let table = [
            (
                Product::Ecs,
                "cn-hangzhou",
                "https://ecs-cn-hangzhou.aliyuncs.com",
            ),
            (
                Product::Ecs,
                "cn-beijing",
                "https://ecs.cn-beijing.aliyuncs.com",
            ),
            (
                Product::Ecs,
                "eu-central-1",
                "https://ecs.eu-central-1.aliyuncs.com",
            ),
            (Product::Ess, "cn-hangzhou", "https://ess.aliyuncs.com"),
            (Product::Ess, "us-west-1", "https://ess.aliyuncs.com"),
            (
                Product::Ess,
                "eu-central-1",
                "https://ess.eu-central-1.aliyuncs.com",
            ),
            (Product::Slb, "ap-southeast-1", "https://slb.aliyuncs.com"),
            (
                Product::Slb,
                "cn-chengdu",
                "https://slb.cn-chengdu.aliyuncs.com",
            ),
            (
                Product::Cs,
                "cn-hangzhou",
                "https://cs.cn-hangzhou.aliyuncs.com",
            ),
            (Product::Eci, "cn-beijing", "https://eci.aliyuncs.com"),
            (
                Product::Vpc,
                "cn-beijing",
                "https://vpc.cn-beijing.aliyuncs.com",
            ),
            (Product::Sts, "eu-central-1", "https://sts.aliyuncs.com"),
        ];
        for (product, region, base) in table {
            assert_eq!(public(product, region), base, "{product} in {region}");
        }
    }

    #[test]
    fn the_host_is_the_authority_of_the_base_url() {
        let endpoint = Endpoints::public()
            .resolve(Product::Ecs, "cn-beijing")
            .expect("valid");
        assert_eq!(endpoint.host, "ecs.cn-beijing.aliyuncs.com");
    }

    #[test]
    fn an_override_routes_every_product_to_one_base() {
        let endpoints = Endpoints::with_override("http://127.0.0.1:9100").expect("valid");
        for product in Product::ALL {
            let endpoint = endpoints.resolve(product, "cn-hangzhou").expect("resolves");
            assert_eq!(endpoint.base, "http://127.0.0.1:9100");
            assert_eq!(endpoint.host, "127.0.0.1:9100");
        }
    }

    #[test]
    fn an_override_may_have_a_trailing_slash_and_a_default_port() {
        let endpoint = Endpoints::with_override("https://emu.example:443/")
            .expect("valid")
            .resolve(Product::Cs, "cn-hangzhou")
            .expect("resolves");
        assert_eq!(endpoint.base, "https://emu.example");
        assert_eq!(endpoint.host, "emu.example");
    }

    #[test]
    fn ipv6_overrides_keep_their_brackets() {
        let endpoint = Endpoints::with_override("http://[::1]:9100")
            .expect("valid")
            .resolve(Product::Ecs, "cn-hangzhou")
            .expect("resolves");
        assert_eq!(endpoint.host, "[::1]:9100");
    }

    #[test]
    fn loopback_overrides_are_recognised() {
        for (raw, loopback) in [
            ("http://127.0.0.1:9100", true),
            ("http://localhost:9100", true),
            ("http://[::1]:9100", true),
            ("http://10.1.2.3:9100", false),
            ("https://emu.example", false),
        ] {
            let endpoints = Endpoints::with_override(raw).expect(raw);
            assert_eq!(endpoints.is_loopback_override(), loopback, "{raw}");
        }
        assert!(!Endpoints::public().is_loopback_override());
    }

    #[test]
    fn bad_overrides_are_rejected_with_a_reason() {
        for (raw, reason) in [
            ("127.0.0.1:9100", "with a scheme"),
            ("localhost:9100", "with a scheme"),
            ("ftp://127.0.0.1", "http or https"),
            ("http://", "host"),
            ("http://127.0.0.1:9100/api", "no path"),
            ("http://127.0.0.1:9100/?a=b", "no path"),
            ("http://user:pw@127.0.0.1", "credentials"),
        ] {
            let err = Endpoints::with_override(raw).expect_err(raw);
            assert!(
                matches!(err, Error::InvalidEndpoint { .. }),
                "{raw}: {err:?}"
            );
            assert!(err.to_string().contains(reason), "{raw}: {err}");
        }
    }

    #[test]
    fn the_override_is_read_from_the_environment() {
        let endpoints = Endpoints::from_env_with(|name| {
            (name == ENDPOINT_ENV).then(|| "http://10.0.0.1:80".into())
        })
        .expect("valid");
        assert_eq!(endpoints.override_base(), Some("http://10.0.0.1"));
        assert_eq!(
            Endpoints::from_env_with(|_| Some(String::new())).expect("empty"),
            Endpoints::public()
        );
        assert!(Endpoints::from_env_with(|_| Some("nonsense".into())).is_err());
    }

    #[test]
    fn a_malformed_region_is_rejected_before_it_becomes_a_host() {
        for region in ["", "cn-hangzhou.evil.com", "CN", "cn hangzhou", "-cn"] {
            assert!(
                Endpoints::public().resolve(Product::Ecs, region).is_err(),
                "{region:?}"
            );
        }
    }

    #[test]
    fn every_product_has_a_dated_version() {
        for product in Product::ALL {
            let version = product.version();
            assert_eq!(version.len(), 10, "{product}");
            assert!(version.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
        }
    }
}
