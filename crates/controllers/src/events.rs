//! Kubernetes Events (`v1` core events, which `kubectl describe` shows) recorded on behalf of a
//! controller, with cluster-autoscaler's duplicate suppression: the same reason and message on
//! the same object is written at most once per `dedupe` window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use rand::Rng;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Writes Events as `component`.
pub struct Recorder {
    client: kube::Client,
    component: String,
    dedupe: Duration,
    recent: Mutex<HashMap<(String, String, String), Instant>>,
}

impl Recorder {
    pub fn new(client: kube::Client, component: impl Into<String>, dedupe: Duration) -> Self {
        Self {
            client,
            component: component.into(),
            dedupe,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this event was written within the window (and, if not, marks it written now).
    fn suppressed(&self, object: &ObjectReference, reason: &str, message: &str) -> bool {
        let key = (
            format!(
                "{}/{}/{}",
                object.kind.as_deref().unwrap_or_default(),
                object.namespace.as_deref().unwrap_or_default(),
                object.name.as_deref().unwrap_or_default()
            ),
            reason.to_owned(),
            message.to_owned(),
        );
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < self.dedupe);
        if recent.contains_key(&key) {
            return true;
        }
        recent.insert(key, now);
        false
    }

    /// Records an event on `object`; failures are logged, never returned (events are advice).
    pub async fn emit(
        &self,
        object: &ObjectReference,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        if self.suppressed(object, reason, message) {
            return;
        }
        // Events of cluster-scoped objects (nodes) go to `default`, as the kubelet's do.
        let namespace = object
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let now = Time(jiff::Timestamp::now());
        let suffix: u64 = rand::rng().random();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{suffix:016x}",
                    object.name.as_deref().unwrap_or("object")
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(kind.as_str().to_owned()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            reporting_component: Some(self.component.clone()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }
}

/// A reference to a Kubernetes object for an event.
pub fn reference<K: kube::Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: None,
        field_path: None,
    }
}
