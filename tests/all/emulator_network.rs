//! emulator_network: flows through the Rust client against the emulator.
