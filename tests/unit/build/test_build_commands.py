"""The runbook's build commands as argv data (what `--dry` prints and a person would type)."""

from retail_deploy.commands import docker, maven, npm


def test_maven_runbook_steps():
    assert [c.display() for c in maven.default_steps()] == [
        "./mvnw clean test",
        "./mvnw clean package -DskipTests -Pprod",
    ]


def test_maven_package_without_profile_keeps_tests():
    assert maven.package(None, skip_tests=False).argv == ("./mvnw", "clean", "package")


def test_npm_runbook_steps():
    assert [c.display() for c in npm.default_steps()] == ["npm ci", "npm test -- --run", "npm run build"]


def test_docker_build_runbook_form():
    assert docker.build("retail-backend:1.4.2").display() == "docker build -t retail-backend:1.4.2 ."


def test_docker_build_with_dockerfile_args_and_labels_is_quoted():
    command = docker.build("web:1", "src dir", dockerfile="ops/Dockerfile.prod",
                           build_args={"B": "2", "A": "x y"}, labels={"org.x": "sha256:ab"})
    assert command.argv == ("docker", "build", "-t", "web:1", "-f", "ops/Dockerfile.prod",
                            "--build-arg", "A=x y", "--build-arg", "B=2", "--label", "org.x=sha256:ab",
                            "src dir")
    assert command.display().endswith("--build-arg 'A=x y' --build-arg B=2 --label org.x=sha256:ab 'src dir'")


def test_docker_tag_and_push_runbook_form():
    assert docker.tag("retail-backend:1.4.2", "registry.example.com/retail-backend:1.4.2").display() == (
        "docker tag retail-backend:1.4.2 registry.example.com/retail-backend:1.4.2")
    assert docker.push("registry.example.com/retail-backend:1.4.2").display() == (
        "docker push registry.example.com/retail-backend:1.4.2")


def test_docker_login_never_carries_the_password():
    command = docker.login("registry.example.com", "ci-bot")
    assert command.argv == ("docker", "login", "registry.example.com", "-u", "ci-bot", "--password-stdin")
