//! `imscore aka …`: the IMS-AKA computations of the `aka` crate on the command line.
//!
//! Every hexadecimal argument is parsed by a clap value parser, so a bad value (not hex, wrong length)
//! or a missing argument exits with status 2 and a message naming the argument. Output is either
//! `name: value` lines or, with `--json`, exactly one JSON object with lowercase hex values.

use std::io::Write;
use std::process::ExitCode;

use aka::digest::{self, Algorithm, DigestInput, Qop, QopParams};
use aka::resync::{build_auts, recover_sqn_ms};
use aka::{Amf, AuthVector, Auts, Ck, Ha1, Ik, Milenage, Op, Opc, Rand, Res, Sqn, K};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

fn parse_k(s: &str) -> Result<K, String> {
    K::from_hex(s).map_err(|e| e.to_string())
}
fn parse_op(s: &str) -> Result<Op, String> {
    Op::from_hex(s).map_err(|e| e.to_string())
}
fn parse_opc(s: &str) -> Result<Opc, String> {
    Opc::from_hex(s).map_err(|e| e.to_string())
}
fn parse_rand(s: &str) -> Result<Rand, String> {
    Rand::from_hex(s).map_err(|e| e.to_string())
}
fn parse_sqn(s: &str) -> Result<Sqn, String> {
    Sqn::from_hex(s).map_err(|e| e.to_string())
}
fn parse_amf(s: &str) -> Result<Amf, String> {
    Amf::from_hex(s).map_err(|e| e.to_string())
}
fn parse_auts(s: &str) -> Result<Auts, String> {
    Auts::from_hex(s).map_err(|e| e.to_string())
}
fn parse_res(s: &str) -> Result<Res, String> {
    Res::from_hex(s).map_err(|e| e.to_string())
}
fn parse_ik(s: &str) -> Result<Ik, String> {
    Ik::from_hex(s).map_err(|e| e.to_string())
}
fn parse_ck(s: &str) -> Result<Ck, String> {
    Ck::from_hex(s).map_err(|e| e.to_string())
}
fn parse_ha1(s: &str) -> Result<Ha1, String> {
    Ha1::from_hex(s).map_err(|e| e.to_string())
}
fn parse_nc(s: &str) -> Result<String, String> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_owned())
    } else {
        Err("nc must be exactly 8 hexadecimal digits (e.g. 00000001)".into())
    }
}

/// `imscore aka` subcommands.
#[derive(Debug, Subcommand)]
pub enum AkaCommand {
    /// Milenage f1, f1*, f2, f3, f4, f5, f5* (TS 35.206) for one RAND/SQN/AMF.
    Milenage(MilenageArgs),
    /// A whole authentication vector (RAND, XRES, CK, IK, AUTN) and its SIP nonce.
    Vector(VectorArgs),
    /// Build AUTS (UE side, --sqn) or verify one and recover SQN_MS (home side, --auts).
    Auts(AutsArgs),
    /// A Digest `response` and `rspauth` (RFC 2617; AKAv1-MD5 RFC 3310; AKAv2-MD5 RFC 4169).
    Digest(DigestArgs),
}

/// The subscriber's Milenage keys.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Subscriber key K, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_k)]
    k: K,
    #[command(flatten)]
    operator: OperatorArgs,
}

/// Exactly one of OP and OPc.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OperatorArgs {
    /// Operator variant OP, 16 bytes hex (OPc is derived from it).
    #[arg(long, value_name = "HEX", value_parser = parse_op)]
    op: Option<Op>,
    /// OPc, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_opc)]
    opc: Option<Opc>,
}

impl KeyArgs {
    fn milenage(&self) -> Result<Milenage, Failure> {
        match (&self.operator.op, &self.operator.opc) {
            (None, Some(opc)) => Ok(Milenage::new(&self.k, opc)),
            (Some(op), None) => Ok(Milenage::with_op(&self.k, op)),
            // clap's argument group already enforces exactly one
            _ => Err(Failure::Usage(
                "exactly one of --op and --opc is required".into(),
            )),
        }
    }
}

/// Arguments of `imscore aka milenage`.
#[derive(Debug, Args)]
pub struct MilenageArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// RAND, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_rand)]
    rand: Rand,
    /// SQN, 6 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_sqn)]
    sqn: Sqn,
    /// AMF, 2 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_amf)]
    amf: Amf,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `imscore aka vector`.
#[derive(Debug, Args)]
pub struct VectorArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// SQN for this vector, 6 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_sqn)]
    sqn: Sqn,
    /// AMF, 2 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_amf)]
    amf: Amf,
    /// RAND, 16 bytes hex (default: fresh from the OS CSPRNG).
    #[arg(long, value_name = "HEX", value_parser = parse_rand)]
    rand: Option<Rand>,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `imscore aka auts`.
#[derive(Debug, Args)]
pub struct AutsArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// RAND of the challenge being answered, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_rand)]
    rand: Rand,
    #[command(flatten)]
    mode: AutsMode,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
}

/// Exactly one of --sqn (build) and --auts (verify).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AutsMode {
    /// UE side: SQN_MS to put in the AUTS, 6 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_sqn)]
    sqn: Option<Sqn>,
    /// Home side: the AUTS received, 14 bytes hex; prints SQN_MS if MAC-S verifies (exit 1 if not).
    #[arg(long, value_name = "HEX", value_parser = parse_auts)]
    auts: Option<Auts>,
}

/// Digest algorithms on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgArg {
    /// MD5 (RFC 2617): needs --password or --ha1.
    #[value(name = "MD5")]
    Md5,
    /// AKAv1-MD5 (RFC 3310): needs --res.
    #[value(name = "AKAv1-MD5")]
    AkaV1Md5,
    /// AKAv2-MD5 (RFC 4169): needs --res, --ik, --ck.
    #[value(name = "AKAv2-MD5")]
    AkaV2Md5,
}

/// Qop on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QopArg {
    /// qop=auth.
    #[value(name = "auth")]
    Auth,
    /// qop=auth-int.
    #[value(name = "auth-int")]
    AuthInt,
}

/// Arguments of `imscore aka digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Digest algorithm.
    #[arg(long, value_enum, default_value = "AKAv1-MD5", ignore_case = true)]
    algorithm: AlgArg,
    /// username (the IMPI).
    #[arg(long)]
    username: String,
    /// realm.
    #[arg(long)]
    realm: String,
    /// nonce, as in the challenge (without quotes).
    #[arg(long)]
    nonce: String,
    /// Request method.
    #[arg(long, default_value = "REGISTER")]
    method: String,
    /// digest-uri (e.g. sip:ims.example.net).
    #[arg(long)]
    uri: String,
    /// qop; requires --nc and --cnonce.
    #[arg(long, value_enum, requires_all = ["nc", "cnonce"])]
    qop: Option<QopArg>,
    /// nonce count, 8 hex digits.
    #[arg(long, value_parser = parse_nc)]
    nc: Option<String>,
    /// client nonce.
    #[arg(long)]
    cnonce: Option<String>,
    /// Message body (for auth-int), as text.
    #[arg(long, default_value = "")]
    body: String,
    /// MD5: clear password.
    #[arg(long, conflicts_with_all = ["ha1", "res"])]
    password: Option<String>,
    /// MD5: stored HA1, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_ha1, conflicts_with = "res")]
    ha1: Option<Ha1>,
    /// AKA: RES, 8 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_res)]
    res: Option<Res>,
    /// AKAv2: IK, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_ik)]
    ik: Option<Ik>,
    /// AKAv2: CK, 16 bytes hex.
    #[arg(long, value_name = "HEX", value_parser = parse_ck)]
    ck: Option<Ck>,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs one `imscore aka` subcommand.
pub fn run(cmd: AkaCommand) -> ExitCode {
    let r = match cmd {
        AkaCommand::Milenage(a) => milenage(&a),
        AkaCommand::Vector(a) => vector(&a),
        AkaCommand::Auts(a) => auts(&a),
        AkaCommand::Digest(a) => digest_cmd(&a),
    };
    match r {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Rejected(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// Bad or missing arguments: exit 2, like clap.
    Usage(String),
    /// The computation refused the input (e.g. MAC-S mismatch): exit 1.
    Rejected(String),
}

fn emit(json: bool, fields: &[(&str, String)], obj: &impl Serialize) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    let r = if json {
        serde_json::to_string(obj)
            .map_err(std::io::Error::other)
            .and_then(|s| writeln!(out, "{s}"))
    } else {
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        fields
            .iter()
            .try_for_each(|(k, v)| writeln!(out, "{k:<width$}  {v}"))
    };
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::Rejected(format!("writing output: {e}"))),
    }
}

#[derive(Serialize)]
struct MilenageJson {
    opc: String,
    mac_a: String,
    mac_s: String,
    res: String,
    ck: String,
    ik: String,
    ak: String,
    ak_star: String,
}

fn milenage(a: &MilenageArgs) -> Result<ExitCode, Failure> {
    let m = a.keys.milenage()?;
    let o = m.compute_all(&a.rand, a.sqn, a.amf);
    let j = MilenageJson {
        opc: m.opc().expose_hex(),
        mac_a: o.mac_a.to_hex(),
        mac_s: o.mac_s.to_hex(),
        res: o.res.expose_hex(),
        ck: o.ck.expose_hex(),
        ik: o.ik.expose_hex(),
        ak: o.ak.to_hex(),
        ak_star: o.ak_star.to_hex(),
    };
    let fields = [
        ("OPc", j.opc.clone()),
        ("MAC-A", j.mac_a.clone()),
        ("MAC-S", j.mac_s.clone()),
        ("RES", j.res.clone()),
        ("CK", j.ck.clone()),
        ("IK", j.ik.clone()),
        ("AK", j.ak.clone()),
        ("AK*", j.ak_star.clone()),
    ];
    emit(a.json, &fields, &j)
}

#[derive(Serialize)]
struct VectorJson {
    rand: String,
    xres: String,
    ck: String,
    ik: String,
    autn: String,
    sqn: String,
    amf: String,
    ak: String,
    nonce: String,
}

fn vector(a: &VectorArgs) -> Result<ExitCode, Failure> {
    let m = a.keys.milenage()?;
    let rand = a.rand.unwrap_or_else(Rand::random);
    let av = AuthVector::generate(&m, rand, a.sqn, a.amf);
    let j = VectorJson {
        rand: av.rand.to_hex(),
        xres: av.xres.expose_hex(),
        ck: av.ck.expose_hex(),
        ik: av.ik.expose_hex(),
        autn: av.autn.to_hex(),
        sqn: a.sqn.to_hex(),
        amf: a.amf.to_hex(),
        ak: m.f5(&rand).to_hex(),
        nonce: av.sip_nonce(),
    };
    let fields = [
        ("RAND", j.rand.clone()),
        ("XRES", j.xres.clone()),
        ("CK", j.ck.clone()),
        ("IK", j.ik.clone()),
        ("AUTN", j.autn.clone()),
        ("SQN", j.sqn.clone()),
        ("AMF", j.amf.clone()),
        ("AK", j.ak.clone()),
        ("nonce", j.nonce.clone()),
    ];
    emit(a.json, &fields, &j)
}

#[derive(Serialize)]
struct AutsJson {
    auts: String,
    auts_base64: String,
    sqn_ms: String,
}

fn auts(a: &AutsArgs) -> Result<ExitCode, Failure> {
    let m = a.keys.milenage()?;
    let (auts, sqn_ms) = match (a.mode.sqn, a.mode.auts) {
        (Some(sqn), _) => (build_auts(&m, &a.rand, sqn), sqn),
        (None, Some(auts)) => {
            let sqn =
                recover_sqn_ms(&m, &a.rand, &auts).map_err(|e| Failure::Rejected(e.to_string()))?;
            (auts, sqn)
        }
        (None, None) => return Err(Failure::Usage("one of --sqn or --auts is required".into())),
    };
    let j = AutsJson {
        auts: auts.to_hex(),
        auts_base64: auts.to_base64(),
        sqn_ms: sqn_ms.to_hex(),
    };
    let fields = [
        ("AUTS", j.auts.clone()),
        ("auts (SIP, base64)", j.auts_base64.clone()),
        ("SQN_MS", j.sqn_ms.clone()),
    ];
    emit(a.json, &fields, &j)
}

#[derive(Serialize)]
struct DigestJson {
    algorithm: &'static str,
    ha1: String,
    response: String,
    rspauth: String,
}

fn digest_cmd(a: &DigestArgs) -> Result<ExitCode, Failure> {
    let alg = match a.algorithm {
        AlgArg::Md5 => Algorithm::Md5,
        AlgArg::AkaV1Md5 => Algorithm::AkaV1Md5,
        AlgArg::AkaV2Md5 => Algorithm::AkaV2Md5,
    };
    let ha1 = match alg {
        Algorithm::Md5 => match (&a.password, &a.ha1) {
            (Some(p), _) => digest::ha1(&a.username, &a.realm, p.as_bytes()),
            (None, Some(h)) => h.clone(),
            (None, None) => {
                return Err(Failure::Usage(
                    "--algorithm MD5 requires --password or --ha1".into(),
                ))
            }
        },
        Algorithm::AkaV1Md5 => match &a.res {
            Some(res) => digest::ha1_akav1(&a.username, &a.realm, res),
            None => {
                return Err(Failure::Usage(
                    "--algorithm AKAv1-MD5 requires --res".into(),
                ))
            }
        },
        Algorithm::AkaV2Md5 => match (&a.res, &a.ik, &a.ck) {
            (Some(res), Some(ik), Some(ck)) => {
                digest::ha1_akav2(&a.username, &a.realm, res, ik, ck)
            }
            _ => {
                return Err(Failure::Usage(
                    "--algorithm AKAv2-MD5 requires --res, --ik and --ck".into(),
                ))
            }
        },
    };
    let qop = match (a.qop, &a.nc, &a.cnonce) {
        (None, _, _) => None,
        (Some(q), Some(nc), Some(cnonce)) => Some(QopParams {
            qop: match q {
                QopArg::Auth => Qop::Auth,
                QopArg::AuthInt => Qop::AuthInt,
            },
            nc,
            cnonce,
        }),
        (Some(_), _, _) => return Err(Failure::Usage("--qop requires --nc and --cnonce".into())),
    };
    let input = DigestInput {
        nonce: &a.nonce,
        method: &a.method,
        uri: &a.uri,
        qop,
        body: a.body.as_bytes(),
    };
    let response = digest::response(&ha1, &input).map_err(|e| Failure::Usage(e.to_string()))?;
    let rspauth = digest::rspauth(&ha1, &input).map_err(|e| Failure::Usage(e.to_string()))?;
    let j = DigestJson {
        algorithm: alg.name(),
        ha1: ha1.expose_hex(),
        response,
        rspauth,
    };
    let fields = [
        ("algorithm", j.algorithm.to_owned()),
        ("HA1", j.ha1.clone()),
        ("response", j.response.clone()),
        ("rspauth", j.rspauth.clone()),
    ];
    emit(a.json, &fields, &j)
}
