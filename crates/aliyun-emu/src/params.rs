//! Typed reads of an RPC request's parameters, with the errors Alibaba Cloud gives for them.
//!
//! RPC parameters arrive flat: lists as `Name.1..N`, objects as `Name.Key`, and some lists as a
//! JSON-array string. Every getter names the parameter in its error, so a caller always learns
//! which input to fix.

use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The region named by the required `RegionId`.
pub fn region_param(params: &Params) -> ApiResult<&'static Region> {
    catalog::known_region("RegionId", params.required("RegionId")?)
}

/// The decoded parameters of one request (query plus form body), first value wins.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Collects pairs; when a key repeats, the first value is kept.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            values.entry(k).or_insert(v);
        }
        Self { values }
    }

    /// A parameter, treating an empty value as absent (the SDKs send `Name=` for unset strings).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> ApiResult<&str> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional parameter parsed as `T`.
    pub fn parse<T: FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    ApiError::invalid(name, format!("\"{v}\" is not a valid {}", kind_of::<T>()))
                })
            })
            .transpose()
    }

    /// A required parameter parsed as `T`.
    pub fn parse_required<T: FromStr>(&self, name: &str) -> ApiResult<T> {
        self.parse(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// An optional boolean; the SDKs send `true`/`false` or Python's `True`/`False`.
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        self.get(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid(
                    name,
                    format!("\"{v}\" is not a boolean (true or false)"),
                )),
            })
            .transpose()
    }

    /// A numbered list `Name.1 .. Name.N`, in numeric order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.");
        let mut items: Vec<(u32, &str)> = self
            .values
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, v)| Some((k[prefix.len()..].parse::<u32>().ok()?, v.as_str())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// A list given either as numbered entries or as a JSON-array string under the same name.
    pub fn list_or_json(&self, name: &str) -> ApiResult<Vec<String>> {
        match self.get(name) {
            Some(text) => serde_json::from_str::<Vec<String>>(text).map_err(|_| {
                ApiError::invalid(
                    name,
                    format!("expected a JSON array of strings such as [\"a\",\"b\"], got {text}"),
                )
            }),
            None => Ok(self.list(name).into_iter().map(str::to_owned).collect()),
        }
    }

    /// Numbered objects `Name.N.Key` / `Name.N.Value` (tags), in numeric order.
    pub fn tags(&self, name: &str) -> Vec<(String, String)> {
        let prefix = format!("{name}.");
        let mut by_index: BTreeMap<u32, (String, String)> = BTreeMap::new();
        for (k, v) in self
            .values
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            let Some((index, field)) = k[prefix.len()..].split_once('.') else {
                continue;
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            let entry = by_index.entry(index).or_default();
            match field {
                "Key" => entry.0 = v.clone(),
                "Value" => entry.1 = v.clone(),
                _ => {}
            }
        }
        by_index
            .into_values()
            .filter(|(k, _)| !k.is_empty())
            .collect()
    }

    /// `PageNumber` (from 1) and `PageSize` (1..=max), with the service's defaults.
    pub fn page(&self, default_size: usize, max_size: usize) -> ApiResult<(usize, usize)> {
        let number = self.parse::<usize>("PageNumber")?.unwrap_or(1);
        if number == 0 {
            return Err(ApiError::invalid("PageNumber", "page numbers start at 1"));
        }
        let size = self.parse::<usize>("PageSize")?.unwrap_or(default_size);
        if size == 0 || size > max_size {
            return Err(ApiError::invalid(
                "PageSize",
                format!("must be between 1 and {max_size}"),
            ));
        }
        Ok((number, size))
    }

    /// Every parameter except the ones that carry the signature or vary per attempt, as one
    /// string: two requests with the same fingerprint ask for the same thing.
    pub fn fingerprint(&self) -> String {
        const VOLATILE: &[&str] = &[
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "ClientToken",
            "AccessKeyId",
            "SecurityToken",
            "Format",
        ];
        self.values
            .iter()
            .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn kind_of<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.starts_with('u') || name.starts_with('i') {
        "integer"
    } else if name.starts_with('f') {
        "number"
    } else {
        "value"
    }
}

/// A page of `items` (1-based page number).
pub fn paginate<T>(items: Vec<T>, number: usize, size: usize) -> Vec<T> {
    items
        .into_iter()
        .skip((number - 1).saturating_mul(size))
        .take(size)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn numbered_lists_come_back_in_numeric_order() {
        let p = params(&[
            ("Ids.10", "j"),
            ("Ids.2", "b"),
            ("Ids.1", "a"),
            ("Idsx", "no"),
            ("Ids.x", "no"),
        ]);
        assert_eq!(p.list("Ids"), vec!["a", "b", "j"]);
    }

    #[test]
    fn json_lists_and_numbered_lists_are_both_accepted() {
        assert_eq!(
            params(&[("InstanceIds", r#"["i-1","i-2"]"#)])
                .list_or_json("InstanceIds")
                .unwrap(),
            vec!["i-1", "i-2"]
        );
        assert_eq!(
            params(&[("InstanceIds.1", "i-1")])
                .list_or_json("InstanceIds")
                .unwrap(),
            vec!["i-1"]
        );
        let err = params(&[("InstanceIds", "i-1")])
            .list_or_json("InstanceIds")
            .unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("InstanceIds"));
    }

    #[test]
    fn bad_numbers_name_the_parameter() {
        let err = params(&[("MinSize", "two")])
            .parse::<u32>("MinSize")
            .unwrap_err();
        assert!(
            err.message.contains("\"MinSize\"") && err.message.contains("integer"),
            "{}",
            err.message
        );
        assert_eq!(
            params(&[])
                .parse_required::<u32>("MaxSize")
                .unwrap_err()
                .code,
            "MissingParameter"
        );
    }

    #[test]
    fn booleans_accept_python_spelling() {
        let p = params(&[("A", "True"), ("B", "false"), ("C", "yes")]);
        assert_eq!(p.bool("A").unwrap(), Some(true));
        assert_eq!(p.bool("B").unwrap(), Some(false));
        assert!(p.bool("C").is_err());
    }

    #[test]
    fn tags_pair_keys_with_values() {
        let p = params(&[
            ("Tag.2.Key", "b"),
            ("Tag.1.Key", "a"),
            ("Tag.1.Value", "1"),
            ("Tag.3.Value", "orphan"),
        ]);
        assert_eq!(
            p.tags("Tag"),
            vec![("a".into(), "1".into()), ("b".into(), String::new())]
        );
    }

    #[test]
    fn fingerprints_ignore_signature_and_token() {
        let a = params(&[("A", "1"), ("ClientToken", "x"), ("SignatureNonce", "n1")]);
        let b = params(&[("A", "1"), ("ClientToken", "y"), ("SignatureNonce", "n2")]);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), params(&[("A", "2")]).fingerprint());
    }

    #[test]
    fn page_bounds_are_checked() {
        assert_eq!(params(&[]).page(10, 100).unwrap(), (1, 10));
        assert!(params(&[("PageSize", "101")]).page(10, 100).is_err());
        assert!(params(&[("PageNumber", "0")]).page(10, 100).is_err());
        assert_eq!(paginate(vec![1, 2, 3, 4, 5], 3, 2), vec![5]);
        assert!(paginate(vec![1, 2], usize::MAX, 2).is_empty());
    }
}
