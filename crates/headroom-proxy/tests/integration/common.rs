//! The scenario harness: three mocks (Anthropic, OpenAI, ChatGPT backend) and a proxy pointed
//! at them.

use headroom_proxy::{Config, ProxyHandle};
use headroom_testkit::MockUpstream;

pub struct Env {
    pub anthropic: MockUpstream,
    pub openai: MockUpstream,
    pub chatgpt: MockUpstream,
    pub proxy: ProxyHandle,
}

impl Env {
    pub async fn new() -> Env {
        Env::with(|_| {}).await
    }

    /// Start mocks and a proxy; `tweak` adjusts the proxy config before it starts.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Env {
        let anthropic = MockUpstream::start().await;
        let openai = MockUpstream::start().await;
        let chatgpt = MockUpstream::start().await;
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            anthropic_url: anthropic.url(),
            openai_url: format!("{}/v1", openai.url()),
            chatgpt_url: chatgpt.url(),
            ..Config::default()
        };
        tweak(&mut config);
        let proxy = headroom_proxy::start(config).await.expect("proxy starts");
        Env {
            anthropic,
            openai,
            chatgpt,
            proxy,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.url())
    }
}

/// A closed loopback port: connecting to it is refused.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", headroom_testkit::free_port())
}

/// A ChatGPT-style bearer JWT carrying `chatgpt_account_id` (unsigned; the proxy never verifies).
pub fn chatgpt_jwt(account: &str) -> String {
    let payload =
        format!(r#"{{"https://api.openai.com/auth":{{"chatgpt_account_id":"{account}"}}}}"#);
    format!("eyJhbGciOiJub25lIn0.{}.c2ln", b64url(payload.as_bytes()))
}

fn b64url(input: &[u8]) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            s.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}
