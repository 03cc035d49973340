//! The library half of the `hookrelay` package: the part of `hookrelay dev`
//! that the functions' moto-backed tests drive too. It is development
//! tooling, so it lives here and not in `hookrelay-shared`, the library the
//! Lambda functions ship.

pub mod local_esm;
