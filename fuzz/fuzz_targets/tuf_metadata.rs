//! TUF metadata from an untrusted server: every document type must parse
//! or be refused without panicking, and delegation matching must stay
//! well-behaved on whatever roles and patterns the input carries.
#![no_main]

use archy_registry::tuf::metadata::{Root, Snapshot, Targets, Timestamp};
use archy_registry::tuf::signed::Envelope;
use archy_registry::tuf::trusted::TrustedSet;
use archy_registry::tuf::UtcTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = UtcTime::from_unix(1_800_000_000);
    if let Ok(mut set) = TrustedSet::new(data.to_vec(), now) {
        let _ = set.update_root(data.to_vec());
    }
    let _ = Envelope::<Root>::parse(data);
    let _ = Envelope::<Timestamp>::parse(data);
    let _ = Envelope::<Snapshot>::parse(data);
    if let Ok(targets) = Envelope::<Targets>::parse(data)
        && let Some(delegations) = &targets.doc.delegations
    {
        for path in ["a", "a/b", "releases/x/y.zip", "*", ""] {
            let _ = delegations.roles_for_target(path);
        }
    }
});
