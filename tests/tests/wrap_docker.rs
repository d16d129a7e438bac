//! `headroom wrap --runtime docker`: the session proxy is a container whose lifetime follows the
//! leases. A fake `docker` client (a script on PATH) runs a real `headroom proxy` for `run` and
//! stops it for `stop`, so the whole flow is exercised without a container engine.

mod wrap_support;

use std::time::{Duration, Instant};

use wrap_support::*;

fn fake_docker(world: &World) {
    let script = format!(
        r#"#!/bin/sh
out="{out}"
echo "$*" >> "$out/docker.log"
cmd="$1"; shift
case "$cmd" in
  rm) exit 0 ;;
  run)
    port=""
    while [ $# -gt 0 ]; do
      case "$1" in
        -p) port="${{2#127.0.0.1:}}"; port="${{port%:8787}}"; shift 2 ;;
        --name|-e) shift 2 ;;
        *) shift ;;
      esac
    done
    "{bin}" proxy --port "$port" > "$out/container.log" 2>&1 &
    echo $! > "$out/container.pid"
    echo 0123456789ab
    ;;
  stop) kill "$(cat "$out/container.pid")" ;;
  *) echo "fake docker: unsupported $cmd" >&2; exit 1 ;;
esac
"#,
        out = world.out.display(),
        bin = headroom_bin().display()
    );
    let path = world.bin.join("docker");
    std::fs::write(&path, script).unwrap();
    make_executable(&path);
}

#[test]
fn the_docker_runtime_runs_the_session_proxy_as_a_container_and_stops_it() {
    let world = World::new();
    world.fake_tool("claude");
    fake_docker(&world);
    let port = free_port();
    let mut wrap = world.spawn(
        &[
            "wrap",
            "--runtime",
            "docker",
            "--port",
            &port.to_string(),
            "claude",
        ],
        &[
            ("WAIT", "1"),
            ("ANTHROPIC_TARGET_API_URL", "http://127.0.0.1:9"),
        ],
    );
    world.wait_out("claude.pid");
    let log = world.read_out("docker.log");
    assert!(
        log.contains(&format!(
            "run -d --rm --name headroom-wrap-{port} -p 127.0.0.1:{port}:8787 -e ANTHROPIC_TARGET_API_URL -e HEADROOM_INSTANCE_SECRET headroom:latest"
        )),
        "{log}"
    );
    assert_eq!(
        health(port).expect("container proxy serves")["service"],
        "headroom-proxy"
    );
    let helper = world.proxy_pid(port).expect("the helper records itself");
    let container: u32 = world.read_out("container.pid").trim().parse().unwrap();

    world.release("claude");
    assert!(wrap.wait().unwrap().success());
    let exited = Instant::now();
    wait_until(
        Duration::from_secs(5),
        || !pid_alive(helper) && !pid_alive(container) && !port_is_open(port),
        "the container and the helper to stop",
    );
    assert!(
        exited.elapsed() <= Duration::from_secs(2),
        "took {:?}",
        exited.elapsed()
    );
    assert!(
        world
            .read_out("docker.log")
            .contains(&format!("stop -t 2 headroom-wrap-{port}")),
        "{}",
        world.read_out("docker.log")
    );
}

#[test]
fn a_failing_docker_is_a_clear_error_and_the_tool_does_not_start() {
    let world = World::new();
    world.fake_tool("codex");
    let script = world.bin.join("docker");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = rm ] && exit 0\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&script);
    let port = free_port();
    let out = world.run(&[
        "wrap",
        "--runtime",
        "docker",
        "--port",
        &port.to_string(),
        "codex",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the proxy could not start on port {port}")),
        "{err}"
    );
    assert!(err.contains("Cannot connect to the Docker daemon"), "{err}");
    assert!(world.read_out("codex.pid").is_empty());
    // Its lease is gone and nothing is left running.
    assert_eq!(
        std::fs::read_dir(world.port_dir(port).join("leases"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_missing_image_says_how_to_build_it() {
    let world = World::new();
    world.fake_tool("codex");
    let script = world.bin.join("docker");
    // What `docker run` prints for an image that is neither local nor pullable.
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = rm ] && exit 0\necho \"Unable to find image 'headroom:latest' locally\" >&2\necho 'docker: Error response from daemon: pull access denied for headroom, repository does not exist or may require docker login' >&2\nexit 125\n",
    )
    .unwrap();
    make_executable(&script);
    let port = free_port();
    let out = world.run(&[
        "wrap",
        "--runtime",
        "docker",
        "--port",
        &port.to_string(),
        "codex",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("build -t headroom:latest -f docker/Dockerfile ."),
        "{err}"
    );
    assert!(world.read_out("codex.pid").is_empty());
}
