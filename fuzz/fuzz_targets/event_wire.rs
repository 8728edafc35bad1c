//! The event wire reader and `nostr`'s own parser agree on any text: both
//! read the same event (id, author, time, kind, each tag's name and first
//! value, content, signature) and the same answer to whether its id is the
//! hash of its contents, or both refuse it.
//!
//! Where the reader is stricter than `nostr` on purpose, the rule is
//! written out here:
//! - `id` and `pubkey` are hex, as NIP-01 writes them. `nostr` also reads
//!   bech32 (`note1…`, `npub1…`) and `nostr:` URIs there, forms no relay
//!   sends in an event;
//! - `kind` is a number from 0 to 65535. `nostr` 0.44 reads a larger one
//!   modulo 65536 (its visitor casts `v as u16`), so it takes kind 95614
//!   for 30078, a listing; the reader refuses it;
//! - an event longer than `MAX_EVENT_BYTES` is refused unread.
#![no_main]

use archy_discovery::note::Note;
use archy_discovery::verify::{MAX_EVENT_BYTES, Rejection};
use archy_discovery::wire;
use libfuzzer_sys::fuzz_target;
use nostr::{Event, JsonUtil};
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    // Relays send events in websocket text frames, so the reader takes
    // text; bytes that are not UTF-8 never reach it.
    let Ok(raw) = std::str::from_utf8(bytes) else {
        return;
    };
    match (wire::read(raw), Event::from_json(raw)) {
        (Ok(ours), Ok(event)) => {
            assert_eq!(
                ours.note,
                Note::of(&event),
                "a different event read from {raw}"
            );
            assert_eq!(
                ours.id_holds,
                event.verify_id(),
                "a different answer on the id of {raw}"
            );
        }
        (Err(_), Err(_)) => {}
        (Err(Rejection::TooLarge { .. }), Ok(_)) => assert!(raw.len() > MAX_EVENT_BYTES),
        (Err(refusal), Ok(_)) => assert!(
            refused_on_purpose(raw),
            "the reader refused ({refusal}) what nostr reads: {raw}"
        ),
        (Ok(ours), Err(error)) => {
            panic!("the reader read {ours:?} where nostr refuses ({error}): {raw}")
        }
    }
});

/// Whether the event breaks one of the reader's own rules above: `id` or
/// `pubkey` not 64 hex digits (either case), or `kind` past 65535.
fn refused_on_purpose(raw: &str) -> bool {
    let Ok(event) = serde_json::from_str::<Value>(raw) else {
        return false;
    };
    let is_hex = |field: &Value| {
        field
            .as_str()
            .is_some_and(|text| text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let kind_too_large = event["kind"]
        .as_u64()
        .is_some_and(|kind| kind > u64::from(u16::MAX));
    !is_hex(&event["id"]) || !is_hex(&event["pubkey"]) || kind_too_large
}
