"""The deployment files: docker-compose.yml, Dockerfile and .dockerignore are checked, not started;
and the documentation that describes them: README.md stays a front door, docs/ holds the reference,
and every relative link between them resolves."""

from __future__ import annotations

import base64
import json
import os
import re
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from plumbing.codec import codec_from_settings
from plumbing.settings import SEARCH_ATTRIBUTES, Settings

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 20_000

# The services docs/operations.md (Production deployment) describes.
DOCUMENTED_SERVICES = {
    "api",
    "worker",
    "dispatcher",
    "migrate",
    "temporal",
    "temporal-ui",
    "postgres",
    "codec-server",
}
APP_SERVICES = {"api", "worker", "dispatcher", "migrate", "codec-server"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _app_services() -> dict[str, dict[str, Any]]:
    """Services running the journeys image (built from this repository's Dockerfile)."""
    return {name: svc for name, svc in _services().items() if "build" in svc}


def _env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose interpolation against `given` (a stand-in for the operator's environment)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in given:
            return given[name]
        if op is not None and op.endswith("-"):
            return arg
        if op is not None and op.endswith("?"):
            raise AssertionError(f"{name} is required: {arg}")
        return ""

    return _INTERPOLATION.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def _required_variables(text: str) -> set[str]:
    return {m["name"] for m in _INTERPOLATION.finditer(text) if m["op"] and m["op"].endswith("?")}


def _loopback_default(value: object) -> bool:
    if not isinstance(value, str):
        return False
    host = urlsplit(value).hostname if "://" in value else value.rsplit(":", 1)[0]
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _required_settings() -> set[str]:
    """Settings a deployment must set, derived from `Settings` rather than listed by hand:
    fields without a default, optional URLs that fall back to the embedded dev stack, fields whose
    default points at this host's loopback (the dev stack), and the JWT secret that
    `require_jwt_secret` insists on outside dev mode."""
    required: set[str] = set()
    for name, field in Settings.model_fields.items():
        falls_back_to_embedded = field.default is None and "embedded" in (field.description or "")
        if field.is_required() or falls_back_to_embedded or _loopback_default(field.default):
            required.add(name)
    with pytest.raises(RuntimeError, match="JOURNEYS_JWT_SECRET"):
        Settings(dev_mode=False, jwt_secret=None).require_jwt_secret()
    required.add("jwt_secret")
    # The API's bind address is given on its command line (`--host 0.0.0.0`), not in the environment.
    required.discard("api_host")
    return {f"JOURNEYS_{name.upper()}" for name in required}


def test_the_required_list_is_derived_from_settings() -> None:
    required = _required_settings()
    assert {
        "JOURNEYS_DATABASE_URL",
        "JOURNEYS_TEMPORAL_ADDRESS",
        "JOURNEYS_JWT_SECRET",
        "JOURNEYS_SMTP_HOST",
    } <= required


def test_every_service_the_operations_guide_names_exists() -> None:
    assert set(_services()) >= DOCUMENTED_SERVICES
    guide = (DOCS / "operations.md").read_text()
    for name in DOCUMENTED_SERVICES:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", guide), name


def test_app_services_share_one_image_and_the_settings_every_process_needs() -> None:
    apps = _app_services()
    assert set(apps) == APP_SERVICES
    assert len({svc["image"] for svc in apps.values()}) == 1
    required = _required_settings()
    for name, svc in apps.items():
        env = _env(svc)
        missing = required - {key for key, value in env.items() if value is not None}
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["JOURNEYS_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert urlsplit(str(env["JOURNEYS_DATABASE_URL"])).hostname == "postgres"
        assert str(env.get("JOURNEYS_DEV_MODE", "false")).lower() == "false"


def test_secrets_come_from_the_environment() -> None:
    text = COMPOSE.read_text()
    assert {"JOURNEYS_JWT_SECRET", "JOURNEYS_PAYLOAD_ENCRYPTION_KEY"} <= _required_variables(text)
    for svc in _app_services().values():
        env = _env(svc)
        for key in ("JOURNEYS_JWT_SECRET", "JOURNEYS_PAYLOAD_ENCRYPTION_KEY"):
            assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", str(env[key])), key
        for key in ("JOURNEYS_SMTP_PASSWORD", "JOURNEYS_CODEC_SERVER_TOKEN"):
            # Passed through only when set: an empty string is not "unset" to pydantic-settings.
            assert env.get(key) is None, key
    # The one literal secret is the local PostgreSQL password's overridable default.
    postgres_env = _env(_services()["postgres"])
    assert str(postgres_env["POSTGRES_PASSWORD"]).startswith("${POSTGRES_PASSWORD:-")
    # No `${X:-}`: an empty value reaches the app as "" (a 0-byte key, an empty token), not as unset.
    assert ":-}" not in text


def test_the_app_environment_is_accepted_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {
        "JOURNEYS_JWT_SECRET": "s" * 40,
        "JOURNEYS_PAYLOAD_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
        "JOURNEYS_SMTP_HOST": "smtp.example.com",
        "JOURNEYS_UNSUBSCRIBE_SECRET": "u" * 40,
        "JOURNEYS_PUBLIC_URL": "https://journeys.example.com",
    }
    for name in ("JOURNEYS_", "POSTGRES_PASSWORD", "TEMPORAL_"):
        for key in list(os.environ):
            if key.startswith(name):
                monkeypatch.delenv(key)
    for svc in _app_services().values():
        for key, value in _env(svc).items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, _interpolate(str(value), given))
        settings = Settings()
        assert not settings.dev_mode
        assert settings.require_jwt_secret() == "s" * 40
        assert settings.database_url is not None
        assert settings.database_url.get_secret_value().startswith("postgresql://journeys:")
        assert settings.webhook_allow_list == []
        assert codec_from_settings(settings) is not None
        assert settings.unsubscribe_key_material() == b"u" * 40
        assert settings.public_base_url() == "https://journeys.example.com"


def test_healthchecks_on_postgres_temporal_and_api() -> None:
    services = _services()
    for name in ("postgres", "temporal", "api"):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert "/health" in str(services["api"]["healthcheck"]["test"])
    assert "cluster health" in str(services["temporal"]["healthcheck"]["test"])
    assert services["postgres"]["volumes"]


def _conditions(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on") or {}
    assert isinstance(depends, dict), "depends_on must name its conditions"
    return {name: spec["condition"] for name, spec in depends.items()}


def test_start_order_uses_conditions() -> None:
    services = _services()
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/auto-setup:")
    assert _env(temporal)["DB"] == "postgres12"
    assert int(_env(temporal)["NUM_HISTORY_SHARDS"]) >= 8
    assert _conditions(temporal) == {"postgres": "service_healthy"}
    assert _conditions(services["migrate"]) == {"postgres": "service_healthy"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker", "dispatcher"):
        conditions = _conditions(services[name])
        assert conditions["migrate"] == "service_completed_successfully", name
        assert conditions["temporal"] == "service_healthy", name
    assert services["api"]["command"][:3] == ["api", "--host", "0.0.0.0"]
    assert any(str(port).endswith(":8000") for port in services["api"]["ports"])
    assert services["codec-server"]["command"][:3] == ["codec-server", "--host", "0.0.0.0"]


def test_the_worker_and_the_dispatcher_scale() -> None:
    for name in ("worker", "dispatcher"):
        service = _services()[name]
        assert service["command"] == [name]
        assert "container_name" not in service
        assert "ports" not in service


def test_search_attributes_are_registered_before_workflows_start() -> None:
    services = _services()
    jobs = [
        (name, svc)
        for name, svc in services.items()
        if "search-attribute create" in str(svc.get("command", "")) + str(svc.get("entrypoint", ""))
    ]
    assert len(jobs) == 1
    job_name, job = jobs[0]
    script = str(job["command"]) + str(job.get("entrypoint", ""))
    for attribute, kind in SEARCH_ATTRIBUTES.items():
        assert re.search(rf"\b{attribute}\b\W+{kind}\b", script), attribute
    assert job.get("restart") == "no"
    assert _conditions(job) == {"temporal": "service_healthy"}
    for name in ("api", "worker", "dispatcher"):
        assert _conditions(services[name])[job_name] == "service_completed_successfully"


def test_the_ui_decodes_through_the_codec_server() -> None:
    services = _services()
    ui_env = _env(services["temporal-ui"])
    assert ui_env["TEMPORAL_ADDRESS"] == "temporal:7233"
    codec_port = services["codec-server"]["command"][-1]
    assert str(ui_env["TEMPORAL_CODEC_ENDPOINT"]).rstrip("}").endswith(f":{codec_port}")
    app_env = _env(services["api"])
    ui_port = services["temporal-ui"]["ports"][0].split(":")[0]
    assert str(app_env["JOURNEYS_TEMPORAL_UI_URL"]).rstrip("}").endswith(f":{ui_port}")


def test_prometheus_is_optional() -> None:
    prometheus = _services().get("prometheus")
    if prometheus is not None:
        assert prometheus["profiles"] == ["metrics"]
        for volume in prometheus.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source


def test_api_and_workers_serve_metrics_that_prometheus_scrapes() -> None:
    services = _services()
    ports = {}
    for name in ("api", "worker", "dispatcher"):
        address = str(_env(services[name])["JOURNEYS_METRICS_ADDRESS"])
        host, _, port = address.rpartition(":")
        assert host == "0.0.0.0", f"{name} must serve metrics to other containers"
        ports[name] = int(port)
    assert "JOURNEYS_METRICS_ADDRESS" not in _env(services["migrate"])
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for job in jobs.values() for c in job.get("static_configs", []) for t in c["targets"]}
    assert f"api:{ports['api']}" in targets
    assert "temporal:9090" in targets
    # Every worker replica: Docker's DNS answers the service name with one address per container.
    discovered = [c for job in jobs.values() for c in job.get("dns_sd_configs", [])]
    assert any(c["names"] == ["worker"] and c["port"] == ports["worker"] for c in discovered)
    assert any(c["names"] == ["dispatcher"] and c["port"] == ports["dispatcher"] for c in discovered)


def test_logs_are_json_and_tracing_is_opt_in() -> None:
    for name, svc in _app_services().items():
        env = _env(svc)
        assert env["JOURNEYS_LOG_FORMAT"] == "json", name
        assert env.get("JOURNEYS_OTLP_ENDPOINT") is None, "passed through only when the operator sets it"


def test_mounted_config_files_exist() -> None:
    for svc in _services().values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
                if source.endswith((".yml", ".yaml")):
                    yaml.safe_load((ROOT / source).read_text())


def _dockerfile_instructions() -> list[tuple[str, str]]:
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    instructions = _dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    args = dict(instructions)  # the last of each kind
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "HEALTHCHECK" in keywords and "/health" in args["HEALTHCHECK"]
    assert "urllib" in args["HEALTHCHECK"]
    assert args["EXPOSE"] == "8000"
    assert "journeys" in args["ENTRYPOINT"]
    assert '"api"' in args["CMD"]
    copies = [(i, rest) for i, (keyword, rest) in enumerate(instructions) if keyword == "COPY"]
    pyproject_at = next(i for i, rest in copies if rest.split()[0] == "pyproject.toml")
    source_at = next(i for i, rest in copies if rest.split()[0] == ".")
    assert pyproject_at < source_at
    installs_between = [
        rest for keyword, rest in instructions[pyproject_at:source_at] if keyword == "RUN" and "pip" in rest
    ]
    assert installs_between, "dependencies must be installed before the source is copied"
    assert keywords.index("USER") > source_at


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()} - {""}
    assert {".git", ".data", ".venv", ".env"} <= ignored
    for needed in ("pyproject.toml", "README.md", "journeys", "worker.py", "store", "api"):
        assert needed not in ignored


# --- The documentation: README.md is the front door, docs/ the reference ---------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> str:
    """The text outside code: links inside fences or backticks are examples, not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1/-2 for repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    links = _LINK.findall(_prose(path.read_text()))
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I)]


def test_the_readme_is_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes: move reference material into docs/"
    text = README.read_text()
    for heading in ("## Two commands", "## Walkthrough", "## Layout"):
        assert heading in text, heading
    assert "make run" in text and "make test" in text


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken: list[str] = []
    checked = 0
    for path in _markdown_files():
        for link in _relative_links(path):
            checked += 1
            target, _, anchor = link.partition("#")
            resolved = (path.parent / target).resolve() if target else path
            if not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such heading)")
    assert checked > 20, "the link scan found almost nothing: is the pattern still right?"
    assert broken == []


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n## The `x` command\n\n[ok](#the-x-command) [gone](missing.md) "
        "[web](https://example.com) `[code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n"
    )
    assert _relative_links(page) == ["#the-x-command", "missing.md"]
    assert _anchors(page) == {"a-page", "the-x-command"}


def test_the_readme_points_at_every_doc() -> None:
    linked = {link.partition("#")[0] for link in _relative_links(README)}
    for doc in sorted(DOCS.glob("*.md")):
        assert f"docs/{doc.name}" in linked, f"README.md does not link docs/{doc.name}"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [
        f"JOURNEYS_{name.upper()}"
        for name in Settings.model_fields
        if f"`JOURNEYS_{name.upper()}`" not in text
    ]
    assert missing == [], "docs/configuration.md lacks " + ", ".join(missing)


def test_the_walkthrough_journey_is_the_one_the_tests_run() -> None:
    from tests.journey_examples import welcome_journey

    walkthrough = README.read_text().split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    body = re.search(r"JOURNEY=\$\(curl .*?-d \'(\{.*?\})\' \|", walkthrough, re.S)
    assert body, "the walkthrough no longer creates its journey with one curl"
    journey = json.loads(body[1])
    expected = welcome_journey()
    assert journey["nodes"] == expected["nodes"]
    assert journey["edges"] == expected["edges"]
