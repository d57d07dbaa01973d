"""The proxy's pure decisions (retail_deploy.docker.proxy_plan), tested by equality."""

from __future__ import annotations

from retail_deploy.docker import proxy_image
from retail_deploy.docker import proxy_plan as pp
from retail_deploy.docker.plan import DockerSettings, Endpoint, ServiceTarget, container_port, own_port

SETTINGS = DockerSettings(health_interval=0.5, proxy_timeout=60, proxy_connect_timeout=2)


def target(service: str = "backend", port: int = 8080) -> ServiceTarget:
    return ServiceTarget(service, "development", "1.0.0", f"r/{service}:1.0.0", f"retail-{service}-development",
                         port, port + 10000, port, (Endpoint("/api/v1/health"),), "/api/v1/version")


def test_one_listener_per_service_on_its_stable_port_with_the_serving_containers() -> None:
    listeners = [pp.Listener.of(target(), SETTINGS), pp.Listener.of(target("admin-web", 3001), SETTINGS)]
    text = pp.config(listeners, {"backend": [28080]}, SETTINGS)
    assert "listen svc_backend\n  bind 127.0.0.1:8080\n  balance roundrobin\n  option httpchk GET /api/v1/health\n" in text
    assert "  server p28080 127.0.0.1:28080 check inter 500 fall 2 rise 1\n" in text
    assert "listen svc_admin-web\n  bind 127.0.0.1:3001\n" in text
    assert "  retry-on conn-failure empty-response\n" in text and "  timeout connect 2000\n" in text
    assert f"  stats socket {pp.SOCKET} mode 600 level admin\n" in text
    # The digest depends on listeners and timeouts, not on which containers serve.
    assert pp.digest(listeners, SETTINGS) == pp.digest(listeners, SETTINGS)
    assert pp.digest(listeners, SETTINGS) != pp.digest(listeners[:1], SETTINGS)


def test_servers_state_and_sessions_are_parsed() -> None:
    state = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n"
             "3 svc_backend 1 p28080 127.0.0.1 2 0 1 1 0 1 0 2 6 0 0 0 - 28080 - 0 0 - - 0\n"
             "3 svc_backend 2 p28081 127.0.0.1 2 8 1 1 0 1 0 2 6 0 0 0 - 28081 - 0 0 - - 0\n")
    up, draining = pp.parse_servers_state(state)
    assert (up.backend, up.name, up.port, up.up) == ("svc_backend", "p28080", 28080, True)
    assert (draining.port, draining.up, draining.draining) == (28081, False, True)
    stat = "# pxname,svname,qcur,qmax,scur\nsvc_backend,p28081,1,0,2\nsvc_backend,BACKEND,0,0,2\n"
    assert pp.current_sessions(stat, "svc_backend", "p28081") == 3
    assert pp.current_sessions(stat, "svc_backend", "p1") is None


def test_runtime_api_answers_are_judged() -> None:
    assert pp.cli_error("add server svc_backend/p1 127.0.0.1:1", "New server registered.\n") is None
    assert pp.cli_error("add server svc_backend/p1 127.0.0.1:1", "Already exists a server with the same name") is not None
    assert pp.cli_error("del server svc_backend/p1", "Server still has connections attached to it.") is not None
    assert pp.cli_error("enable server svc_backend/p1", "\n") is None
    assert pp.cli_error("enable server svc_backend/p9", "No such server.\n") == "No such server."


def test_a_new_container_on_a_remote_engine_takes_the_port_the_serving_one_does_not_have() -> None:
    assert own_port(target(), None) == 18080
    assert own_port(target(), 18080) == 18081
    assert own_port(target(), 18081) == 18080
    assert container_port({"org.retail-deploy.port": "18081"}) == 18081 and container_port({}) is None


def test_ldd_output_gives_the_libraries_to_copy() -> None:
    out = ("\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
           "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n")
    assert proxy_image.libraries(out) == ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
