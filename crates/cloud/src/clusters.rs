//! ACK clusters and their node pools as the control plane drives them.
