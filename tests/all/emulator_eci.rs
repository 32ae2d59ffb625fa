//! emulator_eci: flows through the Rust client against the emulator.
