//! Entry point for the fuzz target `provisioning_input` (`fuzz/`), also run over the corpus by
//! `tests/fuzz_corpus.rs`: everything an operator file or REST body reaches before the store.

use crate::model::{Impi, Impu};
use crate::provision::import::{parse_csv, parse_json};
use crate::provision::SubscriberInput;

/// Feeds `data` to the provisioning parsers. The first byte picks the parser (CSV, JSON, the
/// identity parsers, one JSON subscriber); none of them may panic, whatever the input.
pub fn provisioning_input(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 4 {
        0 => {
            if let Ok(rows) = parse_csv(&text) {
                for (_, row) in rows {
                    if let Ok(input) = row {
                        let _ = input.to_subscription();
                    }
                }
            }
        }
        1 => {
            if let Ok(rows) = parse_json(&text) {
                for (_, row) in rows {
                    if let Ok(input) = row {
                        let _ = input.to_subscription();
                    }
                }
            }
        }
        2 => {
            let _ = Impi::parse(&text);
            let _ = Impu::parse(&text);
        }
        _ => {
            if let Ok(input) = serde_json::from_str::<SubscriberInput>(&text) {
                let _ = input.to_subscription();
            }
        }
    }
}
