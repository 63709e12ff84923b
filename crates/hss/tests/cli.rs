//! The `subscriber` commands end to end: parsed from argv like the binary does, run against a
//! temporary data dir (SQLite) or a PostgreSQL schema (`--db URL`).

mod common;

use clap::{CommandFactory, Parser};
use common::{Backend, TestDb};
use hss::cli::{run_with_output, SubscriberCmd};
use hss::model::Impi;
use hss::{HssError, StoreConfig, SubscriberStore};

const K: &str = "000102030405060708090a0b0c0d0e0f";

fn db_args(db: &TestDb) -> Vec<String> {
    match &db.config {
        StoreConfig::Sqlite { path, .. } => {
            vec![
                "--data-dir".into(),
                path.parent().unwrap().to_str().unwrap().into(),
            ]
        }
        StoreConfig::Postgres { url, schema, .. } => vec![
            "--db".into(),
            format!("{url}?options[search_path]={}", schema.as_deref().unwrap()),
        ],
    }
}

async fn cli(db: &TestDb, args: &[&str]) -> (Result<(), HssError>, String) {
    let mut argv: Vec<String> = vec!["subscriber".into()];
    argv.extend(db_args(db));
    argv.extend(args.iter().map(|s| s.to_string()));
    let cmd = SubscriberCmd::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut out = Vec::new();
    let r = run_with_output(cmd, &mut out).await;
    (r, String::from_utf8(out).unwrap())
}

on_both_backends!(
    add_show_set_list_delete,
    invalid_add_writes_nothing,
    import_csv_and_json_files,
    demo_command
);

#[test]
fn command_definition_is_consistent() {
    SubscriberCmd::command().debug_assert();
    // Secrets are not printed by Debug of the parsed command.
    let cmd = SubscriberCmd::try_parse_from([
        "subscriber",
        "set",
        "a@b.example",
        "--k",
        "696d73636f72652d64656d6f2d6b6579",
    ])
    .unwrap();
    assert!(!format!("{cmd:?}").contains("696d7363"), "{cmd:?}");
}

async fn add_show_set_list_delete(db: &TestDb) {
    let store = db.open().await; // creates the PostgreSQL schema
    let (r, out) = cli(
        db,
        &[
            "add",
            "--id",
            "alice",
            "--impi",
            "alice@ims.example",
            "--impu",
            "sip:alice@ims.example",
            "--impu",
            "tel:+15551234",
            "--k",
            K,
            "--opc",
            K,
            "--auth-schemes",
            "AKAv1-MD5,Digest-MD5",
            "--digest-realm",
            "ims.example",
            "--digest-ha1",
            K,
        ],
    )
    .await;
    r.unwrap();
    assert!(out.contains("added subscription alice"), "{out}");

    let (r, out) = cli(db, &["show", "tel:+15551234"]).await;
    r.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], "alice");
    assert_eq!(v["private_identities"][0]["operator_key"], "opc");
    assert_eq!(v["private_identities"][0]["digest_realm"], "ims.example");
    assert_eq!(v["public_identities"][1]["can_register"], false);
    assert!(!out.contains(K), "secret printed: {out}");

    let (r, _) = cli(
        db,
        &[
            "set",
            "alice@ims.example",
            "--op",
            K,
            "--amf",
            "0001",
            "--sqn",
            "1000",
        ],
    )
    .await;
    r.unwrap();
    let a = store
        .auth_data(&Impi::parse("alice@ims.example").unwrap())
        .await
        .unwrap();
    assert_eq!(a.operator_key.kind(), "op");
    assert_eq!(a.amf, [0, 1]);
    assert_eq!(a.sqn.seq, 1000 >> 5);
    let (r, _) = cli(
        db,
        &[
            "set",
            "sip:alice@ims.example",
            "--barred",
            "true",
            "--irs",
            "own",
        ],
    )
    .await;
    r.unwrap();
    let (r, _) = cli(db, &["set", "sip:alice@ims.example", "--amf", "0000"]).await;
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("IMPI options given for a public identity"));
    let (r, _) = cli(db, &["set", "alice@ims.example", "--sqn", "0"]).await;
    assert!(r.unwrap_err().to_string().contains("move SEQ back"));
    let (r, _) = cli(db, &["set", "alice@ims.example"]).await;
    assert!(r.unwrap_err().to_string().contains("nothing to change"));

    let (r, out) = cli(db, &["list"]).await;
    r.unwrap();
    assert!(
        out.contains("alice@ims.example") && out.contains("(1 of 1 subscriptions)"),
        "{out}"
    );
    let (r, out) = cli(db, &["list", "--json"]).await;
    r.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["impus"][0], "sip:alice@ims.example");

    let (r, out) = cli(db, &["delete", "alice@ims.example"]).await;
    r.unwrap();
    assert!(out.contains("deleted subscription alice"));
    let (r, _) = cli(db, &["show", "alice"]).await;
    assert!(matches!(r, Err(HssError::NotFound { .. })));
}

async fn invalid_add_writes_nothing(db: &TestDb) {
    let store = db.open().await;
    for (args, expect) in [
        (vec!["--k", "0011", "--op", K], "invalid k"),
        (vec!["--k", K, "--op", "xyz"], "invalid op"),
        (vec!["--k", K, "--op", K, "--amf", "8"], "invalid amf"),
        (
            vec!["--k", K, "--op", K, "--auth-schemes", "CAVE"],
            "auth_scheme",
        ),
    ] {
        let mut a = vec![
            "add",
            "--impi",
            "bob@ims.example",
            "--impu",
            "sip:bob@ims.example",
        ];
        a.extend(args);
        let (r, _) = cli(db, &a).await;
        let e = r.unwrap_err().to_string();
        assert!(e.contains(expect), "{e} should mention {expect}");
    }
    let (r, _) = cli(
        db,
        &[
            "add",
            "--impi",
            "bob",
            "--impu",
            "sip:bob@ims.example",
            "--k",
            K,
            "--op",
            K,
        ],
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("invalid impi"));
    let (r, _) = cli(
        db,
        &[
            "add",
            "--impi",
            "bob@ims.example",
            "--impu",
            "bob@ims.example",
            "--k",
            K,
            "--op",
            K,
        ],
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("invalid impu"));
    assert_eq!(store.count().await.unwrap(), 0);
    // Duplicate after a good add.
    cli(
        db,
        &[
            "add",
            "--impi",
            "bob@ims.example",
            "--impu",
            "sip:bob@ims.example",
            "--k",
            K,
            "--op",
            K,
        ],
    )
    .await
    .0
    .unwrap();
    let (r, _) = cli(
        db,
        &[
            "add",
            "--id",
            "other",
            "--impi",
            "bob2@ims.example",
            "--impu",
            "sip:bob@ims.example",
            "--k",
            K,
            "--op",
            K,
        ],
    )
    .await;
    assert!(matches!(r, Err(HssError::Duplicate { what: "impu", .. })));
    assert_eq!(store.count().await.unwrap(), 1);
    // clap itself refuses op and opc together, and missing both.
    assert!(SubscriberCmd::try_parse_from([
        "subscriber",
        "add",
        "--impi",
        "a@b.c",
        "--impu",
        "sip:a@b.c",
        "--k",
        K,
        "--op",
        K,
        "--opc",
        K
    ])
    .is_err());
    assert!(SubscriberCmd::try_parse_from([
        "subscriber",
        "add",
        "--impi",
        "a@b.c",
        "--impu",
        "sip:a@b.c",
        "--k",
        K
    ])
    .is_err());
}

async fn import_csv_and_json_files(db: &TestDb) {
    let store = db.open().await;
    let dir = std::env::temp_dir().join(format!(
        "hss_cli_import_{}_{:?}",
        std::process::id(),
        db.backend
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("subs.csv");
    std::fs::write(
        &csv,
        format!(
            "id,impi,impus,k,op,amf\n\
             s1,s1@ims.example,sip:s1@ims.example,{K},{K},8000\n\
             s2,s2@ims.example,sip:s2@ims.example,{K},{K},80\n\
             s3,s3@ims.example,sip:s3@ims.example;tel:+1333,{K},{K},\n\
             s1,s1@ims.example,sip:s1@ims.example,{K},{K},8000\n"
        ),
    )
    .unwrap();
    let (r, out) = cli(db, &["import", csv.to_str().unwrap(), "--no-progress"]).await;
    assert!(matches!(r, Err(HssError::ImportFailed(1))), "{r:?}");
    assert!(out.contains("imported 2, skipped 1, failed 1"), "{out}");
    assert!(
        out.contains("line 3: failed s2@ims.example: invalid amf"),
        "{out}"
    );
    assert!(out.contains("line 5: skipped s1@ims.example"), "{out}");
    assert_eq!(store.count().await.unwrap(), 2);
    assert!(store.resolve("s2").await.is_err());

    let json = dir.join("subs.json");
    std::fs::write(
        &json,
        format!(
            "[\n {{\"impi\":\"j1@ims.example\",\"impus\":[\"sip:j1@ims.example\"],\"k\":\"{K}\",\"opc\":\"{K}\"}},\n \
             {{\"impi\":\"j2@ims.example\",\"impus\":[\"sip:j2@ims.example\"],\"k\":\"{K}\",\"opc\":\"{K}\",\"sqn\":64}}\n]\n"
        ),
    )
    .unwrap();
    let (r, out) = cli(db, &["import", json.to_str().unwrap()]).await;
    r.unwrap();
    assert!(out.contains("imported 2, skipped 0, failed 0"), "{out}");
    let a = store
        .auth_data(&Impi::parse("j2@ims.example").unwrap())
        .await
        .unwrap();
    assert_eq!(a.sqn.seq, 2);
    let txt = dir.join("subs.txt");
    std::fs::write(&txt, "x").unwrap();
    let (r, _) = cli(db, &["import", txt.to_str().unwrap()]).await;
    assert!(r.unwrap_err().to_string().contains("--format"));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn demo_command(db: &TestDb) {
    let store = db.open().await;
    let (r, out) = cli(db, &["demo", "--count", "25"]).await;
    r.unwrap();
    assert!(out.contains("provisioned 25"), "{out}");
    assert_eq!(store.count().await.unwrap(), 25);
    let (r, _) = cli(db, &["demo", "--count", "5", "--first", "25"]).await;
    assert!(matches!(r, Err(HssError::Duplicate { .. })));
    assert_eq!(store.count().await.unwrap(), 25);
    if db.backend == Backend::Sqlite {
        assert!(matches!(&db.config, StoreConfig::Sqlite { path, .. } if path.exists()));
    }
}
