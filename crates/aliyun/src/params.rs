//! RPC parameters: how typed values flatten into the query string's `key=value` pairs.
//!
//! ```text
//!   put("RegionId", "cn-hangzhou")          RegionId=cn-hangzhou
//!   put("Force", true)                      Force=true
//!   put_list("InstanceIds", ["i-1", "i-2"]) InstanceIds.1=i-1  InstanceIds.2=i-2
//!   put_tags("Tag", [("env", "dev")])       Tag.1.Key=env  Tag.1.Value=dev
//!   put_json("InstanceIds", ["i-1"])        InstanceIds=["i-1"]        (a JSON text, by API contract)
//!   put_json_object("Tags", [("k", "v")])   Tags={"k":"v"}
//! ```
//!
//! Absent values (`None`, empty lists) are left out rather than sent empty, as the SDKs do.
//! Keys are kept sorted, which is the order the signature wants anyway.

use std::collections::BTreeMap;

/// A value that has one text form on the wire.
pub trait ParamValue {
    fn to_param(&self) -> String;
}

impl ParamValue for str {
    fn to_param(&self) -> String {
        self.to_owned()
    }
}

impl ParamValue for String {
    fn to_param(&self) -> String {
        self.clone()
    }
}

impl ParamValue for bool {
    fn to_param(&self) -> String {
        // The services accept lower case; the Python SDK's `True` is its own quirk.
        if *self { "true" } else { "false" }.to_owned()
    }
}

macro_rules! integer_params {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn to_param(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_params!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl<T: ParamValue + ?Sized> ParamValue for &T {
    fn to_param(&self) -> String {
        (**self).to_param()
    }
}

/// The parameters of one RPC call (or the query of a ROA call).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn put(mut self, key: &str, value: impl ParamValue) -> Self {
        self.0.insert(key.to_owned(), value.to_param());
        self
    }

    /// Sets `key` only when there is a value.
    pub fn put_opt(self, key: &str, value: Option<impl ParamValue>) -> Self {
        match value {
            Some(value) => self.put(key, value),
            None => self,
        }
    }

    /// A list in the repeated style: `key.1`, `key.2`, …
    pub fn put_list<V: ParamValue>(mut self, key: &str, values: &[V]) -> Self {
        for (n, value) in values.iter().enumerate() {
            self.0.insert(format!("{key}.{}", n + 1), value.to_param());
        }
        self
    }

    /// Key/value pairs in the repeated style: `key.N.Key`, `key.N.Value`.
    pub fn put_tags<K: AsRef<str>, V: AsRef<str>>(mut self, key: &str, tags: &[(K, V)]) -> Self {
        for (n, (k, v)) in tags.iter().enumerate() {
            let n = n + 1;
            self.0
                .insert(format!("{key}.{n}.Key"), k.as_ref().to_owned());
            self.0
                .insert(format!("{key}.{n}.Value"), v.as_ref().to_owned());
        }
        self
    }

    /// A list sent as one JSON array text, as e.g. ECS `DescribeInstances.InstanceIds` wants.
    pub fn put_json<S: AsRef<str>>(self, key: &str, values: &[S]) -> Self {
        if values.is_empty() {
            return self;
        }
        let array = values
            .iter()
            .map(|v| serde_json::Value::from(v.as_ref()))
            .collect();
        self.put(key, serde_json::Value::Array(array).to_string())
    }

    /// Key/value pairs sent as one JSON object text, as ESS `CreateScalingConfiguration.Tags` wants.
    pub fn put_json_object<K: AsRef<str>, V: AsRef<str>>(
        self,
        key: &str,
        pairs: &[(K, V)],
    ) -> Self {
        if pairs.is_empty() {
            return self;
        }
        let object = pairs
            .iter()
            .map(|(k, v)| (k.as_ref().to_owned(), serde_json::Value::from(v.as_ref())))
            .collect();
        self.put(key, serde_json::Value::Object(object).to_string())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw (unencoded) pairs, sorted by key.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(params: Params) -> Vec<(String, String)> {
        params.into_pairs()
    }

    fn expected(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn scalars_have_plain_text_forms() {
        let params = Params::new()
            .put("RegionId", "cn-hangzhou")
            .put("Amount", 3u32)
            .put("AdjustmentValue", -2i32)
            .put("Force", true)
            .put("DryRun", false)
            .put("Name", String::from("a b"));
        assert_eq!(
            pairs(params),
            expected(&[
                ("AdjustmentValue", "-2"),
                ("Amount", "3"),
                ("DryRun", "false"),
                ("Force", "true"),
                ("Name", "a b"),
                ("RegionId", "cn-hangzhou"),
            ])
        );
    }

    #[test]
    fn absent_options_and_empty_lists_are_left_out() {
        let none: Option<&str> = None;
        let empty: [&str; 0] = [];
        let no_tags: [(&str, &str); 0] = [];
        let params = Params::new()
            .put_opt("ZoneId", none)
            .put_list("InstanceId", &empty)
            .put_json("InstanceIds", &empty)
            .put_tags("Tag", &no_tags)
            .put_json_object("Tags", &no_tags);
        assert!(params.is_empty());
        assert_eq!(
            Params::new().put_opt("ZoneId", Some("z")).get("ZoneId"),
            Some("z")
        );
    }

    #[test]
    fn lists_are_numbered_from_one() {
        let params = Params::new().put_list("VSwitchIds", &["vsw-a", "vsw-b"]);
        assert_eq!(
            pairs(params),
            expected(&[("VSwitchIds.1", "vsw-a"), ("VSwitchIds.2", "vsw-b")])
        );
    }

    #[test]
    fn tags_become_numbered_key_and_value_pairs() {
        let params = Params::new().put_tags("Tag", &[("env", "dev"), ("team", "a b")]);
        assert_eq!(
            pairs(params),
            expected(&[
                ("Tag.1.Key", "env"),
                ("Tag.1.Value", "dev"),
                ("Tag.2.Key", "team"),
                ("Tag.2.Value", "a b"),
            ])
        );
    }

    #[test]
    fn json_lists_and_objects_are_compact_json_text() {
        let ids = vec!["i-1".to_owned(), "i-\"2\"".to_owned()];
        let params = Params::new()
            .put_json("InstanceIds", &ids)
            .put_json_object("Tags", &[("k8s", "yes"), ("env", "dev")]);
        assert_eq!(params.get("InstanceIds"), Some(r#"["i-1","i-\"2\""]"#));
        let tags: serde_json::Value =
            serde_json::from_str(params.get("Tags").expect("set")).expect("json");
        assert_eq!(tags, serde_json::json!({"env": "dev", "k8s": "yes"}));
    }

    #[test]
    fn a_later_put_replaces_an_earlier_one() {
        let params = Params::new().put("PageSize", 10u32).put("PageSize", 50u32);
        assert_eq!(pairs(params), expected(&[("PageSize", "50")]));
    }
}
