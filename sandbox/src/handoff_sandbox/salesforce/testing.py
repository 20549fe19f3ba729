"""Run the Salesforce sandbox inside a test (or benchmark) and talk to it over real HTTPS.

with running_salesforce_sandbox(seed=True) as sandbox:
    sf = Salesforce(username=sandbox.username, password=sandbox.password,
                    security_token=sandbox.security_token, domain=sandbox.login_domain,
                    session=sandbox.requests_session())
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from handoff_sandbox.salesforce.app import SandboxConfig, SandboxState, create_app
from handoff_sandbox.salesforce.seed import seed_demo
from handoff_sandbox.salesforce.server import BackgroundServer, generate_tls, uvicorn_config
from handoff_sandbox.salesforce.store import OrgStore


def generate_rsa_key_pair() -> tuple[str, str]:
    """(private key PEM, public key PEM) for the JWT bearer flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@dataclass
class RunningSalesforceSandbox:
    url: str  # https://127.0.0.1:PORT (the instance URL and the login URL)
    instance: str  # 127.0.0.1:PORT, what simple-salesforce calls sf_instance
    ca_path: Path
    config: SandboxConfig
    private_key_pem: str  # signs JWT bearer assertions; the sandbox holds the public half
    state: SandboxState
    store: OrgStore

    # credentials
    @property
    def username(self) -> str:
        return self.config.username

    @property
    def password(self) -> str:
        return self.config.password

    @property
    def security_token(self) -> str:
        return self.config.security_token

    @property
    def consumer_key(self) -> str:
        return self.config.consumer_key

    @property
    def consumer_secret(self) -> str:
        return self.config.consumer_secret

    @property
    def api_version(self) -> str:
        return self.config.api_version

    @property
    def login_domain(self) -> str:
        """``domain=`` for simple-salesforce: it builds ``https://{domain}.salesforce.com``."""
        return f"{self.instance}/login"

    def connector_settings(self, flow: str = "jwt", **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``SalesforceSettings`` pointing the connector at this sandbox."""
        settings: dict[str, Any] = {
            "login_url": self.url,
            "api_version": self.api_version,
            "auth_flow": flow,
            "username": self.username,
            "consumer_key": self.consumer_key,
        }
        if flow == "jwt":
            settings["private_key_pem"] = self.private_key_pem
        else:
            settings.update(
                password=self.password,
                security_token=self.security_token,
                consumer_secret=self.consumer_secret,
            )
        return {**settings, **overrides}

    # controls
    def expire_sessions(self) -> int:
        return self.state.expire_sessions()

    def set_limits(self, *, daily_limit: int | None = None, used: int | None = None) -> None:
        self.state.set_limits(daily_limit=daily_limit, used=used)

    @property
    def api_usage(self) -> int:
        return self.state.api_usage

    @property
    def logins(self) -> int:
        return self.state.logins

    def issue_refresh_token(self) -> str:
        """A refresh token as the web server flow would grant it, without the browser step."""
        return self.state.new_refresh_token()

    def flush_cdc(self, timeout: float = 10.0) -> bool:
        return self.state.publisher.flush(timeout) if self.state.publisher else True

    def requests_session(self) -> Any:
        """A `requests.Session` trusting the sandbox CA (simple-salesforce's transport)."""
        import requests

        session = requests.Session()
        session.verify = str(self.ca_path)
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `session.verify`; the
        # sandbox CA must win, and loopback needs no proxy settings from the environment.
        session.trust_env = False
        return session


@contextmanager
def running_salesforce_sandbox(
    *,
    seed: bool = False,
    db_path: Path | None = None,
    cdc_url: str | None = None,
    cdc_secret: str = "handoff-sandbox-relay-secret",
    daily_api_limit: int = 100_000,
    api_version: str = "59.0",
    session_ttl_seconds: float = 7200.0,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[RunningSalesforceSandbox]:
    private_pem, public_pem = generate_rsa_key_pair()
    config = SandboxConfig(
        api_version=api_version,
        daily_api_limit=daily_api_limit,
        session_ttl_seconds=session_ttl_seconds,
        cdc_url=cdc_url,
        cdc_secret=cdc_secret,
        jwt_public_key_pem=public_pem,
    )
    with tempfile.TemporaryDirectory(prefix="handoff-sf-sandbox-") as scratch:
        tls = generate_tls(Path(scratch))
        store = OrgStore(db_path, clock=clock)
        if seed:
            seed_demo(store)
        app = create_app(config, store)
        server = BackgroundServer(uvicorn_config(app, "127.0.0.1", 0, tls))
        port = server.start()
        instance = f"127.0.0.1:{port}"
        try:
            yield RunningSalesforceSandbox(
                url=f"https://{instance}",
                instance=instance,
                ca_path=tls.ca_path,
                config=config,
                private_key_pem=private_pem,
                state=app.state.sandbox,
                store=store,
            )
        finally:
            server.stop()
            app.state.sandbox.close()
            store.close()
