//! Bulk import of subscribers from CSV or JSON, with a per-row summary.
//!
//! Every row is validated on its own and written in its own transaction, so a bad row never
//! half-applies and never blocks the good ones. Rows whose subscription, IMPI or IMPU already
//! exist are *skipped*; rows that are malformed or fail to write are *failed*; both are reported
//! with their line number.
//!
//! CSV: a header line naming the columns (any order): `id, impi, impus, k, op, opc, amf, sqn,
//! ind_bits, auth_schemes, default_scheme, digest_realm, digest_ha1`; `impus` and `auth_schemes`
//! hold several values separated by `;`. JSON: an array of [`SubscriberInput`] objects, or one
//! object per line (JSON Lines).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};

use super::{ImpuInput, SubscriberInput};
use crate::store::SubscriberStore;
use crate::HssError;

/// Largest import accepted in one call (rows).
pub const MAX_IMPORT_ROWS: usize = 1_000_000;

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array, or JSON Lines.
    Json,
}

impl ImportFormat {
    /// Guesses from a file name's extension (`.csv`, `.json`, `.jsonl`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }
}

/// One parsed row: its line number and the input, or why it could not be read.
pub type ParsedRow = (u64, Result<SubscriberInput, String>);

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    /// 1-based line number in the input (for JSON arrays: the line where the object starts).
    pub line: u64,
    /// What the row was about (IMPI or subscription id), if known.
    pub key: Option<String>,
    /// Why.
    pub reason: String,
}

/// Outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Rows written.
    pub imported: u64,
    /// Rows skipped because the subscriber already exists.
    pub skipped: Vec<RowIssue>,
    /// Rows rejected (invalid) or that failed to write.
    pub failed: Vec<RowIssue>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "imported {}, skipped {}, failed {}",
            self.imported,
            self.skipped.len(),
            self.failed.len()
        )?;
        for (label, list) in [("skipped", &self.skipped), ("failed", &self.failed)] {
            for i in list {
                writeln!(
                    f,
                    "  line {}: {label}{}: {}",
                    i.line,
                    i.key
                        .as_deref()
                        .map(|k| format!(" {k}"))
                        .unwrap_or_default(),
                    i.reason
                )?;
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    #[serde(default)]
    id: Option<String>,
    impi: String,
    impus: String,
    k: String,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    opc: Option<String>,
    #[serde(default)]
    amf: Option<String>,
    #[serde(default)]
    sqn: Option<u64>,
    #[serde(default)]
    ind_bits: Option<u8>,
    #[serde(default)]
    auth_schemes: Option<String>,
    #[serde(default)]
    default_scheme: Option<String>,
    #[serde(default)]
    digest_realm: Option<String>,
    #[serde(default)]
    digest_ha1: Option<String>,
}

impl Drop for CsvRow {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.k.zeroize();
        self.op.zeroize();
        self.opc.zeroize();
        self.digest_ha1.zeroize();
    }
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl CsvRow {
    fn to_input(&self) -> SubscriberInput {
        let mut i = SubscriberInput::default();
        i.id = nonempty(&self.id);
        i.impi = self.impi.trim().to_string();
        i.impus = self
            .impus
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| ImpuInput::Uri(s.to_string()))
            .collect();
        i.k = self.k.trim().to_string();
        i.op = nonempty(&self.op);
        i.opc = nonempty(&self.opc);
        i.amf = nonempty(&self.amf);
        i.sqn = self.sqn;
        i.ind_bits = self.ind_bits;
        i.auth_schemes = nonempty(&self.auth_schemes).map(|s| {
            s.split([';', ','])
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        });
        i.default_scheme = nonempty(&self.default_scheme);
        i.digest_realm = nonempty(&self.digest_realm);
        i.digest_ha1 = nonempty(&self.digest_ha1);
        i
    }
}

/// Parses CSV text. A bad header is an error for the whole file; a bad row is reported per row.
pub fn parse_csv(text: &str) -> Result<Vec<ParsedRow>, HssError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| HssError::Format(format!("CSV header: {e}")))?
        .clone();
    const KNOWN: [&str; 13] = [
        "id",
        "impi",
        "impus",
        "k",
        "op",
        "opc",
        "amf",
        "sqn",
        "ind_bits",
        "auth_schemes",
        "default_scheme",
        "digest_realm",
        "digest_ha1",
    ];
    for h in headers.iter() {
        if !KNOWN.contains(&h) {
            return Err(HssError::Format(format!(
                "CSV header: unknown column {h:?} (known: {})",
                KNOWN.join(", ")
            )));
        }
    }
    for required in ["impi", "impus", "k"] {
        if !headers.iter().any(|h| h == required) {
            return Err(HssError::Format(format!(
                "CSV header: missing column {required:?}"
            )));
        }
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        if out.len() >= MAX_IMPORT_ROWS {
            return Err(HssError::Format(format!(
                "more than {MAX_IMPORT_ROWS} rows"
            )));
        }
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                let row: Result<CsvRow, _> = r.deserialize(Some(&headers));
                out.push((line, row.map(|r| r.to_input()).map_err(|e| csv_error(&e))));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.push((line, Err(csv_error(&e))));
            }
        }
    }
    Ok(out)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(i) => format!("column {}: {}", i + 1, err.kind()),
            None => err.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Parses JSON: an array of objects, or JSON Lines.
pub fn parse_json(text: &str) -> Result<Vec<ParsedRow>, HssError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| HssError::Format(format!("JSON: {e}")))?;
        if values.len() > MAX_IMPORT_ROWS {
            return Err(HssError::Format(format!(
                "more than {MAX_IMPORT_ROWS} rows"
            )));
        }
        let lines = array_element_lines(text);
        Ok(values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let line = lines.get(i).copied().unwrap_or(0);
                (line, serde_json::from_value(v).map_err(|e| e.to_string()))
            })
            .collect())
    } else {
        let mut out = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            if out.len() >= MAX_IMPORT_ROWS {
                return Err(HssError::Format(format!(
                    "more than {MAX_IMPORT_ROWS} rows"
                )));
            }
            out.push((
                i as u64 + 1,
                serde_json::from_str(l).map_err(|e| e.to_string()),
            ));
        }
        Ok(out)
    }
}

/// Line (1-based) on which each top-level element of a JSON array starts. The text is known to be
/// valid JSON here (it was parsed first).
fn array_element_lines(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let (mut line, mut depth, mut in_str, mut esc, mut expect) = (1u64, 0u32, false, false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if expect && depth == 1 && !c.is_whitespace() && c != ']' {
            out.push(line);
            expect = false;
        }
        match c {
            '"' => in_str = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect = true,
            _ => {}
        }
    }
    out
}

/// Parses `text` in `format`.
pub fn parse(text: &str, format: ImportFormat) -> Result<Vec<ParsedRow>, HssError> {
    match format {
        ImportFormat::Csv => parse_csv(text),
        ImportFormat::Json => parse_json(text),
    }
}

/// Imports parsed rows, one transaction per row. Shows a progress bar on stderr when `progress`
/// is set and stderr is a terminal.
pub async fn import_rows(
    store: &dyn SubscriberStore,
    rows: Vec<ParsedRow>,
    progress: bool,
) -> ImportSummary {
    let bar = if progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(rows.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} subscribers ({per_sec}, eta {eta})",
        ) {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut summary = ImportSummary::default();
    for (line, row) in rows {
        bar.inc(1);
        let input = match row {
            Ok(i) => i,
            Err(reason) => {
                summary.failed.push(RowIssue {
                    line,
                    key: None,
                    reason,
                });
                continue;
            }
        };
        let key = Some(input.impi.clone());
        let sub = match input.to_subscription() {
            Ok(s) => s,
            Err(e) => {
                summary.failed.push(RowIssue {
                    line,
                    key,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        match store.create_subscription(&sub).await {
            Ok(()) => summary.imported += 1,
            Err(e @ HssError::Duplicate { .. }) => summary.skipped.push(RowIssue {
                line,
                key,
                reason: e.to_string(),
            }),
            Err(e) => {
                if !e.is_client_error() {
                    tracing::warn!(line, error = %e, "import: row failed to write");
                }
                summary.failed.push(RowIssue {
                    line,
                    key,
                    reason: e.to_string(),
                })
            }
        }
    }
    bar.finish_and_clear();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "000102030405060708090a0b0c0d0e0f";

    #[test]
    fn csv_rows_and_line_numbers() {
        let text = format!(
            "impi,impus,k,opc,auth_schemes\n\
             a@ims.example,sip:a@ims.example;tel:+1555,{K},{K},AKAv1-MD5;AKAv2-MD5\n\
             b@ims.example,sip:b@ims.example,{K},{K},\n\
             c@ims.example,sip:c@ims.example,{K}\n"
        );
        let rows = parse_csv(&text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0, 2);
        let a = rows[0].1.as_ref().unwrap();
        assert_eq!(a.impus.len(), 2);
        assert_eq!(a.auth_schemes.as_ref().unwrap().len(), 2);
        assert!(rows[1].1.as_ref().unwrap().auth_schemes.is_none());
        assert_eq!(rows[2].0, 4);
        assert!(
            rows[2].1.as_ref().unwrap_err().contains("fields"),
            "{:?}",
            rows[2].1
        );
        assert!(parse_csv("impi,impus,k,colour\n")
            .unwrap_err()
            .to_string()
            .contains("colour"));
        assert!(parse_csv("impi,k\n")
            .unwrap_err()
            .to_string()
            .contains("impus"));
    }

    #[test]
    fn json_array_lines_and_jsonl() {
        let text = format!(
            "[\n  {{\"impi\": \"a@ims.example\", \"impus\": [\"sip:a@ims.example\"], \"k\": \"{K}\", \"op\": \"{K}\"}},\n\n  {{\"impi\": \"b@x\", \"bogus\": \"[,{{\"}}\n]"
        );
        let rows = parse_json(&text).unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 4]);
        assert!(rows[0].1.is_ok());
        assert!(rows[1].1.as_ref().unwrap_err().contains("bogus"));
        let jl = format!("{{\"impi\":\"a@b.c\",\"impus\":[],\"k\":\"{K}\"}}\n\nnot json\n");
        let rows = parse_json(&jl).unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3]);
        assert!(rows[1].1.is_err());
        assert!(parse_json("[1,").is_err());
    }
}
