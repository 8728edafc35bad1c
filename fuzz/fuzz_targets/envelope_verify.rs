//! Any bytes given to the signed-manifest verifier are refused or verified,
//! never a panic. The seed corpus holds a real signed manifest, so mutations
//! explore the envelope and manifest structure, not only JSON syntax.
#![no_main]

use archy_registry::signing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = signing::verify(bytes, None);
});
