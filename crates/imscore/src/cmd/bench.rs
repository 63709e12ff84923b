//! `imscore bench`: the registration load generator (the `ue` crate's [`ue::load`]) on the
//! command line: open-loop arrivals, live progress, a text and JSON summary with the HDR latency
//! percentiles, failures by cause and retransmissions, and an SVG plot of rate and latency over
//! time (drawn here by hand).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ue::driver::TimerConfig;
use ue::load::{self, LoadConfig, Progress, Second, Subscriber, Summary};

use super::ue::{resolve, SecArg, SecArgs};
use ue::load::LoadSecurity;
use ue::UeError;

/// Arguments of `imscore bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The P-CSCF, HOST:PORT (UDP).
    #[arg(long)]
    pub pcscf: String,
    /// UEs to start.
    #[arg(long, default_value_t = 1000)]
    pub ues: usize,
    /// Arrivals per second (open loop).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Run time from the first arrival to the de-registration of all UEs (e.g. 30, 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Security agreement of every UE: tls (each UE its own TLS connection to --pcscf-tls) or
    /// ipsec (one shared userspace ESP datapath, needs root; SPIs and ports per UE).
    #[arg(long, value_enum, default_value_t = SecArg::None)]
    pub sec: SecArg,
    /// TLS and IPsec settings.
    #[command(flatten)]
    pub secopts: SecArgs,
    /// Subscribers, a CSV in the `imscore subscriber import` format (impi, impus, k, op|opc, amf).
    #[arg(long, conflicts_with = "demo")]
    pub subscribers: Option<PathBuf>,
    /// Use the demo subscribers of `imscore up` (IMSI 001010000000001 …).
    #[arg(long)]
    pub demo: bool,
    /// Registration expiry asked for (seconds); short values exercise re-registration.
    #[arg(long, default_value_t = 600_000)]
    pub expires: u32,
    /// Subscribe to the reg event after registering.
    #[arg(long)]
    pub reg_event: bool,
    /// UDP sockets shared by the UEs.
    #[arg(long, default_value_t = 4)]
    pub sockets: usize,
    /// Worker threads: of the batched UDP engine, or of the tokio runtime with `--engine tasks`
    /// (1 avoids cross-thread wake-ups; more only helps with spare cores).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Load engine. `auto` (the default) picks the batched UDP engine (a few threads, each owning
    /// sockets and a slab of UE machines, recvmmsg/sendmmsg, a timer heap) whenever it applies,
    /// i.e. UDP with `--sec none`; `--sec tls|ipsec` and `tasks` run one tokio task per UE.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    pub engine: Engine,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw registration rate and latency over time into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Which load engine runs the UEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The batched UDP engine when it applies (UDP, `--sec none`), else tasks.
    Auto,
    /// One tokio task per UE (the driver of `imscore ue register`).
    Tasks,
}

/// Parses `30`, `30s`, `500ms`, `2m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with an optional unit (ms, s, m, h)"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 7.0 * 86_400.0 {
        return Err(format!("{s:?}: must be positive and at most a week"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn demo_subscribers(n: usize) -> Vec<Subscriber> {
    use hss::provision::demo;
    (1..=n.max(1) as u64)
        .map(|i| {
            let imsi = demo::demo_imsi(i);
            Subscriber {
                impi: format!("{imsi}@{}", demo::DEMO_REALM),
                impu: format!("sip:{imsi}@{}", demo::DEMO_REALM),
                k: hex::encode(demo::DEMO_K),
                op: Some(hex::encode(demo::DEMO_OP)),
                opc: None,
                amf: Some(hex::encode(demo::DEMO_AMF)),
            }
        })
        .collect()
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("imscore bench: {msg}");
    ExitCode::from(code)
}

/// Runs `imscore bench`.
pub fn run(a: BenchArgs) -> ExitCode {
    if !(a.rate.is_finite() && a.rate > 0.0) {
        return fail(2, "--rate must be a positive number");
    }
    let subs = match (&a.subscribers, a.demo) {
        (Some(p), _) => match std::fs::read_to_string(p) {
            Ok(t) => match load::parse_subscribers_csv(&t) {
                Ok(s) => s,
                Err(e) => return fail(2, format!("{}: {e}", p.display())),
            },
            Err(e) => return fail(2, format!("{}: {e}", p.display())),
        },
        (None, true) => demo_subscribers(a.ues),
        (None, false) => return fail(2, "give --subscribers FILE or --demo"),
    };
    // the batched engine covers UDP without security agreement; TLS and IPsec UEs run as tasks
    let batched = a.engine == Engine::Auto && a.sec == SecArg::None;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if batched { 1 } else { a.threads.max(1) })
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, e),
    };
    let summary = rt.block_on(async {
        let pcscf = resolve("--pcscf", &a.pcscf).await.map_err(|e| (2, e))?;
        let security = match a.sec {
            SecArg::None => LoadSecurity::None,
            SecArg::Tls => {
                let addr = a.secopts.tls_address(&a.pcscf, pcscf);
                let client = a.secopts.tls_client(&addr).map_err(|e| (2, e))?;
                let tls = resolve("--pcscf-tls", &addr).await.map_err(|e| (2, e))?;
                LoadSecurity::Tls { pcscf: tls, client }
            }
            SecArg::Ipsec => LoadSecurity::Ipsec {
                datapath: a.secopts.datapath(pcscf).map_err(|e| match e {
                    UeError::Privilege(_) | UeError::Config(_) => (2, e.to_string()),
                    _ => (1, e.to_string()),
                })?,
                algs: a.secopts.ipsec_alg.clone(),
                ealgs: a.secopts.ipsec_ealg.clone(),
            },
        };
        let cfg = LoadConfig {
            pcscf,
            ues: a.ues,
            rate: a.rate,
            duration: a.duration,
            expires: a.expires,
            reg_event: a.reg_event,
            sockets: a.sockets,
            timers: TimerConfig::default(),
            security,
        };
        let progress = Arc::new(Progress::default());
        let bar = indicatif::ProgressBar::new(a.ues as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed:>4} [{bar:30}] {pos}/{len} started  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let p = progress.clone();
        let b = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                b.set_position(p.started.load(Ordering::Relaxed));
                b.set_message(format!(
                    "registered {}  failed {}  retransmissions {}  done {}",
                    p.registered.load(Ordering::Relaxed),
                    p.failed.load(Ordering::Relaxed),
                    p.retransmissions.load(Ordering::Relaxed),
                    p.finished.load(Ordering::Relaxed),
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let r = match batched {
            true => {
                let engine = load::engine::EngineConfig {
                    workers: a.threads.max(1),
                };
                let subs = subs.clone();
                tokio::task::spawn_blocking(move || {
                    load::engine::run(&cfg, &subs, progress, engine)
                })
                .await
                .map_err(|e| ue::UeError::Config(format!("load engine: {e}")))
                .and_then(|r| r)
            }
            false => load::run(&cfg, &subs, progress).await,
        };
        ticker.abort();
        bar.finish_and_clear();
        r.map_err(|e| (1, e.to_string()))
    });
    let summary = match summary {
        Ok(s) => s,
        Err((code, e)) => return fail(code, e),
    };
    print!("{}", text_summary(&summary));
    if let Some(p) = &a.json {
        let json = match serde_json::to_string_pretty(&summary) {
            Ok(j) => j,
            Err(e) => return fail(1, e),
        };
        if let Err(e) = std::fs::write(p, json + "\n") {
            return fail(1, format!("{}: {e}", p.display()));
        }
    }
    if let Some(p) = &a.plot {
        if let Err(e) = std::fs::write(p, svg(&summary)) {
            return fail(1, format!("{}: {e}", p.display()));
        }
    }
    if summary.failed > 0 || summary.registered == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn text_summary(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "UEs started {}  registered {}  re-registered {}  de-registered {}  failed {}",
        s.ues_started, s.registered, s.reregistered, s.deregistered, s.failed
    );
    let _ = writeln!(
        o,
        "offered {:.1}/s  achieved {:.1} registrations/s  elapsed {:.2} s  retransmissions {}  stray {}",
        s.rate, s.registrations_per_s, s.elapsed_s, s.retransmissions, s.stray_messages
    );
    let l = &s.latency;
    let _ = writeln!(
        o,
        "registration latency (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
    );
    if s.rereg_latency.count > 0 {
        let l = &s.rereg_latency;
        let _ = writeln!(
            o,
            "re-registration latency (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
    for (cause, n) in &s.failures {
        let _ = writeln!(o, "  failed {n}: {cause}");
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A plotted series: legend, colour, value of one second.
type Series<'a> = (&'a str, &'a str, &'a dyn Fn(&Second) -> f64);

/// One panel: a polyline per series over the timeline, with a y axis labelled at 0 and max.
fn panel(out: &mut String, top: f64, title: &str, timeline: &[Second], series: &[Series<'_>]) {
    const LEFT: f64 = 70.0;
    const W: f64 = 640.0;
    const H: f64 = 180.0;
    let n = timeline.len().max(2) as f64 - 1.0;
    let ymax = timeline
        .iter()
        .flat_map(|s| series.iter().map(move |(_, _, f)| f(s)))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        top - 8.0,
        esc(title)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{W}" height="{H}" fill="none" stroke="#888"/>"##
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = top + H - frac * H;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end">{:.1}</text><line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/>"##,
            LEFT - 4.0,
            y + 4.0,
            ymax * frac,
            LEFT + W
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{} s</text>"#,
        LEFT + W,
        top + H + 14.0,
        timeline.len().saturating_sub(1)
    );
    for (i, (name, color, f)) in series.iter().enumerate() {
        let pts: Vec<String> = timeline
            .iter()
            .enumerate()
            .map(|(x, s)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + x as f64 / n * W,
                    top + H - f(s) / ymax * H
                )
            })
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            pts.join(" ")
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="11" fill="{color}">{}</text>"#,
            LEFT + 10.0 + 150.0 * i as f64,
            top + 14.0,
            esc(name)
        );
    }
}

/// The SVG plot: registrations and failures per second, and mean/max latency per second.
fn svg(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="760" height="520" font-family="sans-serif">"#
    );
    let _ = writeln!(
        o,
        r#"<rect width="760" height="520" fill="white"/><text x="70" y="22" font-size="15">imscore bench: {} UEs at {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} failed</text>"#,
        s.ues_started, s.rate, s.latency.p50_ms, s.latency.p99_ms, s.failed
    );
    panel(
        &mut o,
        60.0,
        "registrations per second",
        &s.timeline,
        &[
            ("registered/s", "#1f77b4", &|x: &Second| x.registered as f64),
            ("failed/s", "#d62728", &|x: &Second| x.failed as f64),
        ],
    );
    panel(
        &mut o,
        300.0,
        "registration latency (ms)",
        &s.timeline,
        &[
            ("mean", "#2ca02c", &|x: &Second| x.mean_ms),
            ("max", "#ff7f0e", &|x: &Second| x.max_ms),
        ],
    );
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("").is_err());
    }
}
