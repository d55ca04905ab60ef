"""A merchant's identity provider for tests: signing keys (RSA and EC), a JWKS served over loopback
HTTP by a real server, and tokens, including the forged ones a verifier must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls, alg: str = "RS256") -> SigningKey:
        return cls(f"rsa-{uuid.uuid4().hex[:8]}", alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls) -> SigningKey:
        return cls(f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
        return {**algorithm.to_jwk(public, as_dict=True), "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IdentityProvider:
    """Mints tokens for one issuer; `now` is the timestamp the test's clock shows."""

    issuer: str
    audience: str
    keys: list[SigningKey] = field(default_factory=list)

    def claims(self, subject: str, now: float, **extra: Any) -> dict[str, Any]:
        return {"iss": self.issuer, "aud": self.audience, "sub": subject, "iat": int(now), "exp": int(now) + 600,
                **extra}

    def token(self, subject: str, now: float, *, key: SigningKey | None = None, **extra: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode(self.claims(subject, now, **extra), key.private, algorithm=key.alg,
                          headers={"kid": key.kid})

    def unsigned(self, subject: str, now: float) -> str:
        """`alg: none`: no signature at all."""
        header = _b64(json.dumps({"alg": "none", "kid": self.keys[0].kid}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(subject, now)).encode())}."

    def hmac_with_public_key(self, subject: str, now: float) -> str:
        """Algorithm confusion: HS256 whose secret is the RSA key's public PEM (which anyone has)."""
        key = self.keys[0]
        signing_input = (f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid}).encode())}."
                         f"{_b64(json.dumps(self.claims(subject, now)).encode())}")
        signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"


class JwksServer:
    """A JWKS document on http://127.0.0.1:<free port>/jwks.json, its keys replaceable mid-test
    (a rotation); `hits` counts the fetches it answered."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = list(keys)
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                server.hits += 1
                body = json.dumps({"keys": [k.jwk() for k in server.keys]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


async def configure(tenant: Any, server: JwksServer, idp: IdentityProvider) -> None:
    """Point the tenant's shopper auth at this provider."""
    answer = await tenant.put("/api/v1/shopper-auth", {"jwksUrl": server.url, "issuer": idp.issuer,
                                                       "audience": idp.audience})
    assert answer.status_code == 200, answer.text
