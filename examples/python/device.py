#!/usr/bin/env python3
"""A minimal device in Python, written from docs/PROTOCOL.md alone.

Signs one reading with the device's private key (a JWK file as `telemetry keys generate`
writes it) and POSTs it to an ingest node. Needs only the `cryptography` package
(Debian: python3-cryptography).

    python3 device.py --key keys/boiler-7.key.json --url http://127.0.0.1:8080 --value temperature=21.5
"""
import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    # RFC 7515 §2: base64url without padding
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(jwk: dict):
    d = int.from_bytes(b64url_decode(jwk["d"]), "big")
    if jwk["alg"] == "ES256":
        return ec.derive_private_key(d, ec.SECP256R1())
    if jwk["alg"] == "EdDSA":
        return ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))
    raise ValueError("alg must be ES256 or EdDSA")


def sign(jwk: dict, signing_input: bytes) -> bytes:
    key = load_key(jwk)
    if jwk["alg"] == "ES256":
        # cryptography returns DER; the JWS signature is R || S, 32 bytes each (RFC 7518 §3.4)
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(signing_input)  # Ed25519, RFC 8037


def make_message(jwk: dict, seq: int, readings: list) -> str:
    header = {"alg": jwk["alg"], "typ": "telemetry+jws", "kid": jwk["kid"]}
    payload = {"v": 1, "device": jwk["sub"], "seq": seq, "readings": readings}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(sign(jwk, signing_input.encode("ascii")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="private device JWK file")
    parser.add_argument("--url", required=True, help="ingest node base URL")
    parser.add_argument("--value", action="append", required=True, help="NAME=NUMBER, repeatable")
    parser.add_argument("--seq", type=int, default=int(time.time() * 1000))
    args = parser.parse_args()

    with open(args.key) as f:
        jwk = json.load(f)
    values = {name: float(number) for name, number in (v.split("=", 1) for v in args.value)}
    ts = int(time.time() * 1000)  # milliseconds since the epoch (PROTOCOL.md §6)
    message = make_message(jwk, args.seq, [{"ts": ts, "values": values}])

    request = urllib.request.Request(
        args.url.rstrip("/") + "/v1/messages",
        data=message.encode("ascii"),
        headers={"content-type": "application/jose"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        # Every refusal carries a stable code (PROTOCOL.md §11); Retry-After when a retry can help.
        print(error.code, error.read().decode(), "retry-after:", error.headers.get("retry-after"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
