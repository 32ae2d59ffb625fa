//! emulator_cs: flows through the Rust client against the emulator.
