//! Shared fixtures for the coscls benchmarks (see `BENCHMARKS.md`).
