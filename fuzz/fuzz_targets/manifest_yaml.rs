//! Any text given to the manifest reader yields a manifest or diagnostics,
//! never a panic, in both forms.
#![no_main]

use archy_registry::{Form, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for form in [Form::Source, Form::Published] {
        if let Ok(manifest) = Manifest::from_yaml(text, "fuzz.yml", form) {
            // A manifest that reads also survives its own JSON round trip.
            let value = serde_json::to_value(&manifest).expect("a valid manifest serializes");
            let back = Manifest::from_json(value, "fuzz.json", form).expect("round trip reads");
            assert_eq!(back, manifest);
        }
    }
});
