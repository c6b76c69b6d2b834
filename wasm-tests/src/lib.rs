//! Tests live in tests/; this crate only links the pure logic for wasm.
