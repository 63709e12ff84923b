//! The REST API over real HTTP/1.1 on loopback, against the SQLite and the PostgreSQL store.

mod common;

use std::sync::Arc;

use common::TestDb;
use hss::SubscriberStore;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "test-token-0123456789";
const K: &str = "000102030405060708090a0b0c0d0e0f";

on_both_backends!(rest_crud_auth_and_errors, rest_import_and_openapi);

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(store: Arc<dyn SubscriberStore>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = hss::rest::router(store, TOKEN).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            hss::rest::serve(listener, router, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

struct Resp {
    status: u16,
    headers: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request with `Connection: close`; handles Content-Length and chunked bodies.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &str,
) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PATCH" {
        req.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").expect("no header end");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        loop {
            let (size, after) = r.split_once("\r\n").unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            r = &after[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    Resp {
        status,
        headers: head.to_string(),
        body,
    }
}

fn subscriber(n: u32) -> String {
    json!({
        "impi": format!("u{n}@ims.example"),
        "impus": [format!("sip:u{n}@ims.example"), {"uri": format!("tel:+1555{n:04}"), "irs": "default"}],
        "k": K,
        "op": K,
        "amf": "8000"
    })
    .to_string()
}

async fn rest_crud_auth_and_errors(db: &TestDb) {
    let store: Arc<dyn SubscriberStore> = Arc::new(db.open().await);
    let srv = Server::start(store.clone()).await;
    let a = srv.addr;
    let j = "application/json";

    // Auth: none, wrong, right.
    let r = http(a, "GET", "/api/v1/subscribers", None, j, "").await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        r.headers
    );
    assert_eq!(
        http(
            a,
            "GET",
            "/api/v1/subscribers",
            Some("test-token-0123456780"),
            j,
            ""
        )
        .await
        .status,
        401
    );
    assert_eq!(
        http(
            a,
            "POST",
            "/api/v1/subscribers",
            Some("nope"),
            j,
            &subscriber(1)
        )
        .await
        .status,
        401
    );
    assert_eq!(
        store.count().await.unwrap(),
        0,
        "unauthenticated POST wrote something"
    );
    let r = http(a, "GET", "/api/v1/subscribers", Some(TOKEN), j, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 0);

    // Create, then duplicate.
    let r = http(
        a,
        "POST",
        "/api/v1/subscribers",
        Some(TOKEN),
        j,
        &subscriber(1),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["private_identities"][0]["operator_key"], "op");
    assert!(!r.body.contains(K), "secret echoed: {}", r.body);
    let r = http(
        a,
        "POST",
        "/api/v1/subscribers",
        Some(TOKEN),
        j,
        &subscriber(1),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("duplicate"));

    // Validation errors: 400 with the field named, nothing written.
    let bad = subscriber(2).replace(K, "0011");
    let r = http(a, "POST", "/api/v1/subscribers", Some(TOKEN), j, &bad).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("invalid k"),
        "{}",
        r.body
    );
    let r = http(
        a,
        "POST",
        "/api/v1/subscribers",
        Some(TOKEN),
        j,
        "{not json",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(store.count().await.unwrap(), 1);

    // Show by id, IMPI and IMPU.
    for key in ["u1@ims.example", "sip:u1@ims.example", "tel:+15550001"] {
        let r = http(
            a,
            "GET",
            &format!("/api/v1/subscribers/{key}"),
            Some(TOKEN),
            j,
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_eq!(r.json()["id"], "u1@ims.example");
    }
    assert_eq!(
        http(a, "GET", "/api/v1/subscribers/nobody", Some(TOKEN), j, "")
            .await
            .status,
        404
    );

    // Patch IMPI and IMPU.
    let r = http(
        a,
        "PATCH",
        "/api/v1/impis/u1@ims.example",
        Some(TOKEN),
        j,
        &json!({"opc": K, "amf": "0000"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = http(
        a,
        "PATCH",
        "/api/v1/impus/sip:u1@ims.example",
        Some(TOKEN),
        j,
        r#"{"barred": true}"#,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let v = http(
        a,
        "GET",
        "/api/v1/subscribers/u1@ims.example",
        Some(TOKEN),
        j,
        "",
    )
    .await
    .json();
    assert_eq!(v["private_identities"][0]["operator_key"], "opc");
    assert_eq!(v["private_identities"][0]["amf"], "0000");
    assert_eq!(v["public_identities"][0]["barred"], true);
    let r = http(
        a,
        "PATCH",
        "/api/v1/impis/u1@ims.example",
        Some(TOKEN),
        j,
        r#"{"default_scheme": "Digest-MD5"}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http(
        a,
        "PATCH",
        "/api/v1/impis/u1@ims.example",
        Some(TOKEN),
        j,
        r#"{"colour": 1}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = http(
        a,
        "PATCH",
        "/api/v1/impus/sip:zz@ims.example",
        Some(TOKEN),
        j,
        r#"{"barred": true}"#,
    )
    .await;
    assert_eq!(r.status, 404);

    // No Cx server in this process: de-registration is unavailable.
    let r = http(
        a,
        "POST",
        "/api/v1/subscribers/u1@ims.example/deregister",
        Some(TOKEN),
        j,
        "",
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);

    // List with paging, delete.
    http(
        a,
        "POST",
        "/api/v1/subscribers",
        Some(TOKEN),
        j,
        &subscriber(2),
    )
    .await;
    let v = http(
        a,
        "GET",
        "/api/v1/subscribers?offset=1&limit=5",
        Some(TOKEN),
        j,
        "",
    )
    .await
    .json();
    assert_eq!(v["total"], 2);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["id"], "u2@ims.example");
    assert_eq!(
        http(
            a,
            "DELETE",
            "/api/v1/subscribers/sip:u1@ims.example",
            Some(TOKEN),
            j,
            ""
        )
        .await
        .status,
        204
    );
    assert_eq!(
        http(
            a,
            "DELETE",
            "/api/v1/subscribers/sip:u1@ims.example",
            Some(TOKEN),
            j,
            ""
        )
        .await
        .status,
        404
    );
    assert_eq!(store.count().await.unwrap(), 1);
    srv.stop().await;
}

async fn rest_import_and_openapi(db: &TestDb) {
    let store: Arc<dyn SubscriberStore> = Arc::new(db.open().await);
    let srv = Server::start(store.clone()).await;
    let a = srv.addr;

    // OpenAPI: public, valid JSON, documents every route.
    let r = http(a, "GET", "/openapi.json", None, "", "").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/api/v1/subscribers",
        "/api/v1/subscribers/{key}",
        "/api/v1/impis/{impi}",
        "/api/v1/impus/{impu}",
        "/api/v1/import",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let csv = format!(
        "impi,impus,k,opc\n\
         c1@ims.example,sip:c1@ims.example,{K},{K}\n\
         c2@ims.example,sip:c2@ims.example,{K},ZZ\n\
         c1@ims.example,sip:c1@ims.example,{K},{K}\n\
         c3@ims.example,sip:c3@ims.example;tel:+1999,{K},{K}\n"
    );
    let r = http(a, "POST", "/api/v1/import", Some(TOKEN), "text/csv", &csv).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.json();
    assert_eq!(s["imported"], 2);
    assert_eq!(s["failed"][0]["line"], 3);
    assert!(s["failed"][0]["reason"].as_str().unwrap().contains("opc"));
    assert_eq!(s["skipped"][0]["line"], 4);
    assert_eq!(store.count().await.unwrap(), 2);
    assert!(
        store.resolve("c2@ims.example").await.is_err(),
        "bad row half-applied"
    );

    let body = format!("[{}, {}]", subscriber(7), subscriber(8));
    let s = http(
        a,
        "POST",
        "/api/v1/import",
        Some(TOKEN),
        "application/json",
        &body,
    )
    .await
    .json();
    assert_eq!(s["imported"], 2);
    let r = http(a, "POST", "/api/v1/import", Some(TOKEN), "text/plain", "x").await;
    assert_eq!(r.status, 415);
    let r = http(
        a,
        "POST",
        "/api/v1/import",
        Some(TOKEN),
        "text/csv",
        "impi,bogus\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("bogus"));
    assert_eq!(
        http(a, "POST", "/api/v1/import", None, "text/csv", &csv)
            .await
            .status,
        401
    );
    assert_eq!(store.count().await.unwrap(), 4);
    srv.stop().await;
}

#[test]
fn short_token_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = TestDb::new(common::Backend::Sqlite);
        let store: Arc<dyn SubscriberStore> = Arc::new(db.open().await);
        assert!(hss::rest::router(store, "short").is_err());
    });
}
