//! The one integration-test binary of ackctl. Each module is one topic; they share the helpers
//! in `support`.

mod autoscaler_ack;
mod autoscaler_e2e;
mod emulator_client;
mod emulator_cs;
mod emulator_eci;
mod emulator_faults;
mod emulator_fuzz;
mod emulator_kube;
mod emulator_network;
mod kube_rs;
mod kubectl;
mod server_api;
mod server_harness;
mod server_operations;
mod support;
