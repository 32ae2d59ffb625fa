//! Kubernetes controllers built on kube-rs. They see the cloud only through the `cloud` crate's
//! traits and decide with the pure `planner`.
