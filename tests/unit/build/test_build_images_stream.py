"""Docker SDK streams: errors inside an HTTP-200 stream raise; progress and digests are reported.

The streams are recorded in the engine's real format (docker 20.10 push/build JSON messages).
"""

import base64
import io
import json
import threading

import pytest

from retail_deploy.build import images
from retail_deploy.docker import client as docker_client
from retail_deploy.errors import InputError

PUSH_OK = [
    {"status": "The push refers to repository [127.0.0.1:5000/retail-backend]"},
    {"status": "Preparing", "progressDetail": {}, "id": "873ddceaa178"},
    {"status": "Preparing", "progressDetail": {}, "id": "39e3a68b6991"},
    {"status": "Waiting", "progressDetail": {}, "id": "39e3a68b6991"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "progress": "[=>  ]",
     "id": "873ddceaa178"},
    {"status": "Pushing", "progressDetail": {"current": 1024, "total": 1024}, "progress": "[===>]",
     "id": "873ddceaa178"},
    {"status": "Layer already exists", "progressDetail": {}, "id": "39e3a68b6991"},
    {"status": "Pushed", "progressDetail": {}, "id": "873ddceaa178"},
    {"status": "1.4.2: digest: sha256:" + "a" * 64 + " size: 739"},
    {"progressDetail": {}, "aux": {"Tag": "1.4.2", "Digest": "sha256:" + "a" * 64, "Size": 739}},
]
PUSH_UNAUTHORIZED = [
    {"status": "The push refers to repository [127.0.0.1:5000/retail-backend]"},
    {"status": "Preparing", "progressDetail": {}, "id": "873ddceaa178"},
    {"errorDetail": {"message": "unauthorized: authentication required"},
     "error": "unauthorized: authentication required"},
]
PUSH_DOWN = [
    {"status": "The push refers to repository [127.0.0.1:5000/retail-backend]"},
    {"errorDetail": {"message": 'Get "https://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: '
                                 "connection refused"},
     "error": "Get ...: connection refused"},
]


class FakeApi:
    """Stands in for docker.APIClient, returning a recorded stream."""

    def __init__(self, stream):
        self.stream = stream
        self.calls = []

    def push(self, repository, **kwargs):
        self.calls.append(("push", repository, kwargs))
        return iter(self.stream)

    def build(self, **kwargs):
        self.calls.append(("build", kwargs))
        return iter(self.stream)


class FakeClient:
    def __init__(self, stream):
        self.api = FakeApi(stream)


CREDS = images.Credentials("deployer", "hunter2-very-secret")


def test_push_returns_digest_and_counts_layers():
    client = FakeClient(PUSH_OK)
    lines = []
    result = images.push_image(client, "127.0.0.1:5000/retail-backend:1.4.2", credentials=CREDS,
                               registry="127.0.0.1:5000", progress=images.PushProgress("backend", lines.append))
    assert result.digest == "sha256:" + "a" * 64
    assert (result.uploaded, result.existing) == (1, 1)
    # one line per layer state change: repeated "Pushing" progress is not repeated
    assert lines == ["873ddceaa178: Preparing", "39e3a68b6991: Preparing", "39e3a68b6991: Waiting",
                     "873ddceaa178: Pushing", "39e3a68b6991: Layer already exists", "873ddceaa178: Pushed"]
    _, repository, kwargs = client.api.calls[0]
    assert repository == "127.0.0.1:5000/retail-backend"
    assert kwargs == {"tag": "1.4.2", "stream": True, "decode": True,
                      "auth_config": {"username": "deployer", "password": "hunter2-very-secret"}}


def test_push_error_inside_stream_raises_with_credentials_hint():
    with pytest.raises(images.ImageError) as caught:
        images.push_image(FakeClient(PUSH_UNAUTHORIZED), "127.0.0.1:5000/retail-backend:1.4.2",
                          credentials=CREDS, registry="127.0.0.1:5000", service="backend")
    message = str(caught.value)
    assert message.startswith("backend: push of 127.0.0.1:5000/retail-backend:1.4.2 failed")
    assert "rejected the credentials" in message and "deployer" in message
    assert "hunter2" not in message


def test_push_to_stopped_registry_says_unreachable():
    with pytest.raises(images.ImageError, match="registry 127.0.0.1:5000 is unreachable.*is it running"):
        images.push_image(FakeClient(PUSH_DOWN), "127.0.0.1:5000/retail-backend:1.4.2",
                          credentials=None, registry="127.0.0.1:5000")


def test_push_without_digest_is_a_failure():
    with pytest.raises(images.ImageError, match="without a digest"):
        images.push_image(FakeClient(PUSH_OK[:-1]), "r/x:1", credentials=None, registry="r")


def test_nothing_uploaded_when_registry_has_every_layer():
    stream = [c for c in PUSH_OK if c.get("status") not in ("Pushing", "Pushed")]
    result = images.push_image(FakeClient(stream), "r/x:1", credentials=None, registry="r")
    assert result.uploaded_nothing


BUILD_FAIL = [
    {"stream": "Step 1/2 : FROM busybox:1.36\n"},
    {"stream": " ---> b41a4c6a3295\n"},
    {"stream": "Step 2/2 : COPY missing.txt /x\n"},
    {"errorDetail": {"message": "COPY failed: file not found in build context"},
     "error": "COPY failed: file not found in build context"},
]


def test_build_streams_lines_and_raises_on_stream_error():
    lines = []
    with pytest.raises(images.ImageError, match="^web: docker build failed: COPY failed"):
        images.build_image(FakeClient(BUILD_FAIL), context_dir=".", dockerfile="Dockerfile", tag="web:1",
                           emit=lines.append, service="web")
    assert lines == ["Step 1/2 : FROM busybox:1.36", " ---> b41a4c6a3295", "Step 2/2 : COPY missing.txt /x"]


def test_build_returns_image_id_and_joins_split_lines():
    stream = [{"stream": "Step 1/1 : FROM bus"}, {"stream": "ybox:1.36\n"},
              {"aux": {"ID": "sha256:" + "b" * 64}}, {"stream": "Successfully built bbbbbbbbbbbb\n"}]
    lines = []
    image = images.build_image(FakeClient(stream), context_dir=".", dockerfile="Dockerfile", tag="web:1",
                               emit=lines.append)
    assert image == "sha256:" + "b" * 64
    assert lines == ["Step 1/1 : FROM busybox:1.36", "Successfully built bbbbbbbbbbbb"]


def test_build_stops_when_cancelled():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(images.Cancelled):
        images.build_image(FakeClient(BUILD_FAIL), context_dir=".", dockerfile="Dockerfile", tag="web:1",
                           emit=lambda _: None, cancel=cancel, service="web")


def test_split_reference():
    assert images.split_reference("127.0.0.1:5000/retail-backend:1.4.2") == ("127.0.0.1:5000/retail-backend", "1.4.2")
    assert images.split_reference("127.0.0.1:5000/retail-backend") == ("127.0.0.1:5000/retail-backend", "latest")
    assert images.split_reference("retail-backend:1.0") == ("retail-backend", "1.0")


def test_credentials_from_environment_variables():
    creds = images.resolve_credentials("reg:5000", username_env="U", password_env="P",
                                       environ={"U": "ci", "P": "pw-123456"})
    assert creds is not None and creds.auth_config() == {"username": "ci", "password": "pw-123456"}
    assert "pw-123456" not in repr(creds)


def test_half_set_credentials_are_bad_input():
    with pytest.raises(InputError, match=r"\$P is not set"):
        images.resolve_credentials("reg:5000", username_env="U", password_env="P", environ={"U": "ci"})


def test_credentials_from_docker_config_file(tmp_path):
    auth = base64.b64encode(b"filer:file-pass-99").decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"reg.example:5000": {"auth": auth}}}))
    creds = images.resolve_credentials("reg.example:5000", environ={}, docker_config=str(config))
    assert creds is not None and (creds.username, creds.password) == ("filer", "file-pass-99")
    assert images.resolve_credentials("other:5000", environ={}, docker_config=str(config)) is None


def render(text: str) -> list[str]:
    """A tiny terminal: applies the two escape codes LiveBoard uses (cursor up N lines, erase below)."""
    import re

    screen: list[str] = []
    row = 0
    for token in re.split(r"(\x1b\[\d*F|\x1b\[J|\n)", text):
        if not token:
            continue
        if token == "\n":
            row += 1
        elif token.endswith("F"):
            row -= int(token[2:-1] or 1)
        elif token == "\x1b[J":
            del screen[row:]
        else:
            while len(screen) <= row:
                screen.append("")
            screen[row] = token
    return screen


def test_live_board_redraws_in_place_and_keeps_other_lines_above():
    out = io.StringIO()
    board = images.LiveBoard(out)
    board.set("backend", "873ddceaa178", "Preparing")
    board.set("web", "39e3a68b6991", "Waiting")
    board.print_above("[backend] $ docker push reg/retail-backend:1")
    board.set("backend", "873ddceaa178", "Pushing [==>   ]")
    board.set("backend", "873ddceaa178", "Pushed")
    board.set("web", "39e3a68b6991", "Layer already exists")
    assert render(out.getvalue()) == [
        "[backend] $ docker push reg/retail-backend:1",
        "[backend] 873ddceaa178: Pushed",
        "[web] 39e3a68b6991: Layer already exists",
    ]


def test_push_closes_its_stream_when_the_registry_reports_an_error():
    # The caught error's traceback holds push_image's frame: without an explicit close the stream
    # (and with the real SDK its HTTP response and connection) stays open as long as the error lives.
    closed = []

    def stream():
        try:
            yield from PUSH_UNAUTHORIZED
        finally:
            closed.append(True)

    client = FakeClient([])
    client.api.push = lambda repository, **kwargs: stream()
    with pytest.raises(images.ImageError) as caught:
        images.push_image(client, "127.0.0.1:5000/retail-backend:1.4.2", credentials=CREDS,
                          registry="127.0.0.1:5000")
    assert closed == [True], "stream left open while the error is still held"
    assert "rejected the credentials" in str(caught.value)


def test_connect_closes_the_client_when_the_engine_does_not_answer(monkeypatch):
    import docker

    made = []

    class DeadEngine:
        def __init__(self, **kwargs):
            self.closed = False
            made.append(self)

        def ping(self):
            raise docker.errors.DockerException("Error while fetching server API version: connection refused")

        def close(self):
            self.closed = True

    monkeypatch.setattr(docker, "DockerClient", DeadEngine)
    with pytest.raises(images.OperationFailed, match="cannot reach unix:///nowhere.sock: Error while fetching"):
        docker_client.connect("unix:///nowhere.sock")
    assert [client.closed for client in made] == [True]
