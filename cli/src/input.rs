//! Reading a body from a file or standard input, byte for byte.

use std::io::Read;
use std::path::PathBuf;

/// `None` or `-` reads standard input.
pub fn read_body(path: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(buf)
        }
    }
}
