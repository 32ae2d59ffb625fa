//! Node groups (sets of identical nodes that scale together) as the autoscaler sees them.
