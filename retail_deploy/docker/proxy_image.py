"""The proxy's image, made on the engine itself from the HAProxy installed where the tool runs.

No image can be pulled here (docs/development-target.md, "The proxy"), and a remote engine over
SSH may have no HAProxy package: so, like scripts/make-base-image.sh, the image is a rootfs
`docker import`ed, here through the SDK so that it works on any engine the target reaches. It
holds /usr/sbin/haproxy, /usr/bin/socat (the runtime API client, run with `docker exec`), the
static busybox (`sh`) and every shared library `ldd` lists for them. Its tag carries HAProxy's
version and a digest of the files, so it is made once per engine and per HAProxy build, and an
upgraded HAProxy makes a new one. The host's binaries must suit the engine's architecture: the
target checks the engine's `Arch` and says so otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
from typing import TYPE_CHECKING

from retail_deploy.commands import cmd
from retail_deploy.errors import OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient

    from retail_deploy.execute import Runner

REPOSITORY = "retail-deploy-proxy"
HAPROXY = "/usr/sbin/haproxy"
SOCAT = "/usr/bin/socat"
BUSYBOX = "/bin/busybox"
INSTALL_HINT = "install haproxy, socat and busybox-static where the tool runs: scripts/install-system-deps.sh"


def _binary(path: str, name: str) -> str:
    found = path if os.path.isfile(path) else shutil.which(name)
    if not found:
        raise OperationFailed(f"the Docker target's proxy needs {name} ({path}): {INSTALL_HINT}")
    return found


def libraries(ldd_output: str) -> list[str]:
    """The absolute library paths in `ldd` output (the vDSO has none)."""
    found = []
    for line in ldd_output.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def _files(runner: Runner) -> dict[str, str]:
    """{path in the image: path here} of everything the image holds."""
    haproxy, socat = _binary(HAPROXY, "haproxy"), _binary(SOCAT, "socat")
    busybox = _binary(BUSYBOX, "busybox")
    files = {"/usr/sbin/haproxy": haproxy, "/usr/bin/socat": socat, "/bin/busybox": busybox}
    for binary in (haproxy, socat):
        for lib in libraries(runner.probe(cmd("ldd", binary, read_only=True)).stdout):
            files[lib] = lib
    return files


def _version(runner: Runner, haproxy: str) -> str:
    out = runner.probe(cmd(haproxy, "-v", read_only=True)).stdout
    match = re.search(r"version (\d+\.\d+\.\d+)", out)
    return match.group(1) if match else "unknown"


def image_tag(runner: Runner) -> tuple[str, dict[str, str]]:
    """`retail-deploy-proxy:<haproxy version>-<digest of the files>` and the files themselves."""
    files = _files(runner)
    digest = hashlib.sha256()
    for inside, here in sorted(files.items()):
        digest.update(inside.encode())
        with open(here, "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return f"{REPOSITORY}:{_version(runner, files['/usr/sbin/haproxy'])}-{digest.hexdigest()[:12]}", files


def rootfs(files: dict[str, str]) -> bytes:
    """The image's root file system as a tar: the files, `sh` (busybox), /run and /tmp."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dirs: set[str] = set()

        def add_dir(path: str, mode: int = 0o755) -> None:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if sub and sub not in dirs:
                    dirs.add(sub)
                    info = tarfile.TarInfo(sub)
                    info.type, info.mode = tarfile.DIRTYPE, mode if i == len(parts) else 0o755
                    tar.addfile(info)

        for path, mode in (("/tmp", 0o1777), ("/run", 0o755), ("/etc", 0o755)):
            add_dir(path, mode)
        for inside, here in sorted(files.items()):
            add_dir(os.path.dirname(inside))
            info = tar.gettarinfo(os.path.realpath(here), arcname=inside.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(here, "rb") as handle:
                tar.addfile(info, handle)
        add_dir("/bin")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ensure(runner: Runner, client: DockerClient | None, where: str) -> str:
    """The proxy image's reference on the engine, imported there first when it is missing."""
    import docker

    if client is None:  # a dry run without an engine: the plan names the image, nothing is made
        try:
            return image_tag(runner)[0]
        except OperationFailed:
            return f"{REPOSITORY}:<made from this machine's haproxy>"
    tag, files = image_tag(runner)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    arch = str(client.version().get("Arch", ""))
    here = os.uname().machine
    if arch and {"x86_64": "amd64", "aarch64": "arm64"}.get(here, here) != arch:
        raise OperationFailed(f"{where} runs {arch}, this machine {here}: the proxy image is made from this "
                              f"machine's haproxy; deploy from a machine of the engine's architecture")
    runner.say(f"making the proxy image {tag} on {where} from {files['/usr/sbin/haproxy']}")
    repository, version = tag.split(":", 1)
    client.api.import_image_from_data(rootfs(files), repository=repository, tag=version,
                                      changes=["ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    return tag
