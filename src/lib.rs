#![doc = include_str!("../README.md")]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod auth;
pub mod cls;
pub mod cos;
pub mod telemetry;
pub mod transport;
