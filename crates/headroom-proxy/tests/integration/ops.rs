//! Operational routes: health payloads, the loopback guard, stats and metrics.

use headroom_proxy::Deployment;
use headroom_testkit::client::{self, get, post};

use crate::common::{dead_url, Env};

#[tokio::test]
async fn livez_readyz_and_health_shapes() {
    let env = Env::with(|c| {
        c.deployment = Some(Deployment {
            profile: Some("default".into()),
            preset: Some("persistent-service".into()),
            runtime: Some("native".into()),
            supervisor: Some("service".into()),
            scope: Some("user".into()),
        })
    })
    .await;
    let live = get(&env.url("/livez")).await.unwrap();
    assert_eq!(live.status, 200);
    assert_eq!(live.json()["alive"], true);
    assert_eq!(live.json()["service"], "headroom-proxy");

    let ready = get(&env.url("/readyz")).await.unwrap();
    assert_eq!(ready.status, 200);
    let v = ready.json();
    assert_eq!(
        (v["ready"].as_bool(), v["status"].as_str()),
        (Some(true), Some("healthy"))
    );
    assert!(v.get("config").is_none(), "readyz never carries config");

    let health = get(&env.url("/health")).await.unwrap();
    assert_eq!(health.status, 200);
    let v = health.json();
    assert_eq!(v["service"], "headroom-proxy");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["checks"]["upstream"]["status"], "disabled");
    assert_eq!(
        v["deployment"],
        serde_json::json!({"profile":"default","preset":"persistent-service","runtime":"native","supervisor":"service","scope":"user"})
    );
    let config = &v["config"];
    assert_eq!(config["pid"], std::process::id());
    assert_eq!(config["port"], env.proxy.local_addr().port());
    assert_eq!(config["upstreams"]["anthropic"], env.anthropic.url());
    assert_eq!(
        config["upstreams"]["openai"],
        env.openai.url(),
        "trailing /v1 is normalised"
    );
    assert_eq!(config["optimize"], true);
    assert_eq!(config["mode"], "token");
    assert_eq!(
        config["exact_tokens"], false,
        "BPE tables are opt-in (memory)"
    );
    // No upstream traffic for health checks.
    assert!(env.anthropic.requests().is_empty());
}

#[tokio::test]
async fn config_block_and_admin_routes_need_a_loopback_host_header() {
    let env = Env::new().await;
    // A foreign Host (a DNS-rebinding page) gets nothing from any route.
    for host in ["evil.example", "evil.example:8787", "192.168.1.10:8787"] {
        let r = client::request("GET", &env.url("/health"), &[("host", host)], "")
            .await
            .unwrap();
        assert_eq!(r.status, 403, "Host {host}");
        assert!(
            r.json().get("config").is_none(),
            "config leaked to Host {host}"
        );

        let r = client::request("POST", &env.url("/stats/reset"), &[("host", host)], "")
            .await
            .unwrap();
        assert_eq!(r.status, 403, "admin route answered Host {host}");
    }
    for host in ["localhost:1234", "127.0.0.1", "[::1]:8787"] {
        let r = client::request("GET", &env.url("/health"), &[("host", host)], "")
            .await
            .unwrap();
        assert!(r.json().get("config").is_some(), "Host {host}");
    }
    let r = client::request("POST", &env.url("/stats/reset"), &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "reset");
}

/// What a web page in the user's browser can do to a local proxy: nothing.
#[tokio::test]
async fn browser_pages_cannot_use_the_proxy() {
    let env = Env::new().await;
    let body = r#"{"model":"m","max_tokens":1,"messages":[]}"#;
    // DNS rebinding: the page's own name as Host, on a forwarding route and on the stats.
    for (method, path) in [
        ("POST", "/v1/messages"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/stats"),
        ("GET", "/v1/models"),
    ] {
        let r = client::request(
            method,
            &env.url(path),
            &[
                ("host", "rebind.evil.example:8787"),
                ("x-api-key", "sk-ant-user"),
            ],
            body,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(
            r.json()["type"],
            "error",
            "Anthropic-shaped error for {path}"
        );
    }
    // A cross-site request with a loopback Host (a plain fetch to 127.0.0.1) carries an Origin.
    for (method, path) in [
        ("POST", "/v1/messages"),
        ("POST", "/stats/reset"),
        ("POST", "/v1/retrieve"),
    ] {
        let r = client::request(
            method,
            &env.url(path),
            &[
                ("origin", "https://evil.example"),
                ("x-api-key", "sk-ant-user"),
            ],
            body,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 403, "{method} {path}");
    }
    // Preflights are answered by the proxy, grant nothing, and never reach the provider.
    let r = client::request(
        "OPTIONS",
        &env.url("/v1/messages"),
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    let r = client::request(
        "OPTIONS",
        &env.url("/v1/messages"),
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-origin").is_none());
    // The upstream override only chooses among configured upstreams.
    let r = client::request(
        "POST",
        &env.url("/v1/chat/completions"),
        &[
            ("x-headroom-base-url", "http://127.0.0.1:9/v1"),
            ("authorization", "Bearer sk-user"),
        ],
        r#"{"messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert!(env.anthropic.requests().is_empty() && env.openai.requests().is_empty());
    // Tools (no Origin, loopback Host) are unaffected.
    let r = client::request(
        "POST",
        &env.url("/v1/messages"),
        &[("x-api-key", "sk-ant-user")],
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn upstream_credentials_never_leave_the_process() {
    let env = Env::new().await;
    let with_creds = env
        .anthropic
        .url()
        .replace("http://", "http://gw-user:gw-s3cret@");
    let dead = "http://gw-user:gw-s3cret@127.0.0.1:9".to_owned();
    let env2 = Env::with(|c| {
        c.anthropic_url = with_creds.clone();
        c.openai_url = dead.clone();
    })
    .await;
    let health = get(&env2.url("/health")).await.unwrap().text();
    let ready = get(&env2.url("/readyz")).await.unwrap().text();
    // An unreachable upstream: the 502 names the host, not the credentials.
    let bad = client::request(
        "POST",
        &env2.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-x")],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(bad.status, 502);
    for text in [&health, &ready, &bad.text()] {
        assert!(
            !text.contains("gw-s3cret") && !text.contains("gw-user"),
            "{text}"
        );
    }
    assert!(health.contains("***@127.0.0.1"), "{health}");
    drop(env);
}

#[tokio::test]
async fn deployment_block_is_absent_for_a_plain_proxy() {
    if std::env::var_os("HEADROOM_DEPLOYMENT_PROFILE").is_some() {
        return; // the environment itself declares a deployment
    }
    let env = Env::new().await;
    let v = get(&env.url("/health")).await.unwrap().json();
    assert!(v.get("deployment").is_none(), "{v}");
}

#[tokio::test]
async fn readiness_probe_is_opt_in_and_cached() {
    let env = Env::with(|c| {
        c.check_upstream = true;
        c.anthropic_url = dead_url();
    })
    .await;
    let r = get(&env.url("/readyz")).await.unwrap();
    assert_eq!(r.status, 503);
    let v = r.json();
    assert_eq!(v["ready"], false);
    assert_eq!(v["checks"]["upstream"]["ready"], false);
    assert!(v["checks"]["upstream"]["error"].is_string());
    // /health reports the same but always answers 200; /livez is unaffected.
    assert_eq!(get(&env.url("/health")).await.unwrap().status, 200);
    assert_eq!(get(&env.url("/livez")).await.unwrap().status, 200);

    let env = Env::with(|c| c.check_upstream = true).await;
    for _ in 0..3 {
        let r = get(&env.url("/readyz")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let probes = env.anthropic.requests();
    assert_eq!(probes.len(), 1, "probe result should be cached");
    assert_eq!(
        (probes[0].method.as_str(), probes[0].path.as_str()),
        ("HEAD", "/")
    );
}

#[tokio::test]
async fn stats_and_metrics_count_requests_per_provider() {
    let env = Env::new().await;
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#;
    for _ in 0..2 {
        assert_eq!(
            post(&env.url("/v1/messages"), &[("x-api-key", "k")], body)
                .await
                .unwrap()
                .status,
            200
        );
    }
    assert_eq!(
        post(&env.url("/v1/chat/completions"), &[], body)
            .await
            .unwrap()
            .status,
        200
    );
    // Operational routes are not counted.
    get(&env.url("/livez")).await.unwrap();

    let v = get(&env.url("/stats")).await.unwrap().json();
    assert_eq!(v["requests"]["total"], 3);
    assert_eq!(v["requests"]["by_provider"]["anthropic"], 2);
    assert_eq!(v["requests"]["by_provider"]["openai"], 1);
    assert_eq!(v["requests"]["failed"], 0);
    assert_eq!(
        v["providers"]["anthropic"]["request_bytes"],
        2 * body.len() as u64
    );
    assert!(
        v["providers"]["anthropic"]["response_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(v["tokens"]["before"].as_u64().unwrap() >= v["tokens"]["after"].as_u64().unwrap());
    assert_eq!(
        v["tokens"]["saved"].as_u64().unwrap(),
        v["tokens"]["before"].as_u64().unwrap() - v["tokens"]["after"].as_u64().unwrap()
    );

    let m = get(&env.url("/metrics")).await.unwrap();
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = m.text();
    assert!(
        text.contains("# TYPE headroom_requests_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("headroom_requests_total{provider=\"anthropic\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("headroom_requests_total{provider=\"openai\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("headroom_tokens_before_total{provider=\"anthropic\"} "));

    let snap = env.proxy.stats();
    assert_eq!((snap.total.requests, snap.anthropic.requests), (3, 2));

    let r = client::request("POST", &env.url("/stats/reset"), &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let v = get(&env.url("/stats")).await.unwrap().json();
    assert_eq!(v["requests"]["total"], 0);
}
