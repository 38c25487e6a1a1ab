"""The studio's C2PA signing identity: a certificate chain plus either its private key or a signing callback.

Three ways to get one, from least to most production-ready:

- `development_signer(keys_dir)`: on first use, creates a DEVELOPMENT-ONLY certificate authority and an
  end-entity signing certificate it issues, in `keys_dir/c2pa-dev/`. Manifests signed with it verify as
  *valid but untrusted* unless the verifier is given the CA's PEM as a trust anchor. Never ship it:
  anyone who copies the folder can sign "Sitter" manifests.
- `certificate_signer(chain, key)`: a certificate chain and private key that the studio obtained from a
  real CA (PEM files on disk).
- `callback_signer(chain, sign)`: the private key stays in a KMS or HSM; `sign` is called with the bytes
  to sign and returns the signature.

C2PA refuses self-signed signers: the signing certificate must be X.509 v3, issued by a separate CA,
with CA:FALSE, key usage digitalSignature, an extended key usage of emailProtection or documentSigning,
and subject and authority key identifiers. That is what the development CA issues.

This module only prepares certificates and keys; `provenance/manifest.py` (the one module that imports
c2pa) turns a `StudioSigner` into a c2pa signer.
"""

import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.errors import SigningMisconfigured

DEV_FOLDER = "c2pa-dev"  # inside the keys folder: ca.pem, ca.key, signer.pem, signer.key
DEV_LIFETIME = dt.timedelta(days=5 * 365)
CLOCK_SKEW = dt.timedelta(hours=1)  # certificates start an hour early so a slow clock still accepts them
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)


@dataclass(frozen=True)
class StudioSigner:
    """What signs the studio's manifests.

    `chain_pem` holds the end-entity certificate first, then any intermediates (the root is left out:
    a verifier brings its own trust anchors). Exactly one of `private_key_pem` and `sign` is set.
    `trust_anchor` is the root certificate a verifier must trust, when the studio knows it.
    """

    chain_pem: bytes
    algorithm: str  # a c2pa.C2paSigningAlg member name: ES256, ES384, ES512, PS256, ED25519
    private_key_pem: bytes | None = field(default=None, repr=False)
    sign: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    trust_anchor: Path | None = None
    tsa_url: str | None = None  # RFC 3161 timestamps keep manifests valid after the certificate expires
    development: bool = False

    def __post_init__(self) -> None:
        if (self.private_key_pem is None) == (self.sign is None):
            raise ValueError("a StudioSigner needs exactly one of a private key and a signing callback")


def development_signer(keys_dir: Path | str) -> StudioSigner:
    """The development CA's signer in `keys_dir`, created on first use. DEVELOPMENT ONLY.

    The CA and the signer are written to a temporary folder that is renamed into place, so a crash
    never leaves half a key set and two processes starting at once end up sharing one CA.
    """
    folder = Path(keys_dir) / DEV_FOLDER
    if not folder.is_dir():
        _create_development_ca(folder)
    chain = _read(folder / "signer.pem")
    cert = _end_entity(chain, str(folder / "signer.pem"))
    renew = f"delete {folder} to create a new development CA (verifiers then need its new ca.pem)"
    _check_validity(cert, str(folder / "signer.pem"), fix=renew)
    return StudioSigner(chain, _algorithm(cert.public_key()), private_key_pem=_read(folder / "signer.key"),
                        trust_anchor=folder / "ca.pem", development=True)


def development_trust_anchor(keys_dir: Path | str) -> Path | None:
    """The development CA's root certificate in `keys_dir`, if one was created; never creates one."""
    path = Path(keys_dir) / DEV_FOLDER / "ca.pem"
    return path if path.is_file() else None


def certificate_signer(chain_path: Path | str, key_path: Path | str, *,
                       trust_anchor: Path | str | None = None, tsa_url: str | None = None) -> StudioSigner:
    """A signer from a PEM certificate chain (signing certificate first) and its unencrypted PEM key.

    Raises SigningMisconfigured naming the file and what is wrong with it.
    """
    chain_path, key_path = Path(chain_path), Path(key_path)
    chain = _read(chain_path)
    cert = _end_entity(chain, str(chain_path))
    _check_validity(cert, str(chain_path), fix="renew the signing certificate")
    key_pem = _read(key_path)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        raise SigningMisconfigured(f"{key_path} is not an unencrypted PEM private key ({err})") from None
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise SigningMisconfigured(f"{key_path} is not the private key of the certificate in {chain_path}")
    return StudioSigner(chain, _algorithm(cert.public_key()), private_key_pem=key_pem,
                        trust_anchor=Path(trust_anchor) if trust_anchor else None, tsa_url=tsa_url)


def callback_signer(chain_pem: bytes, sign: Callable[[bytes], bytes], *,
                    trust_anchor: Path | str | None = None, tsa_url: str | None = None) -> StudioSigner:
    """A signer whose private key stays in a KMS or HSM.

    `sign(data)` must return the signature of `data` with the signing certificate's key: for ECDSA
    either DER or raw r||s; for RSA, RSASSA-PSS with SHA-256. The algorithm follows the certificate's key.
    """
    cert = _end_entity(chain_pem, "the callback signer's chain")
    _check_validity(cert, "the callback signer's chain", fix="renew the signing certificate")
    return StudioSigner(chain_pem, _algorithm(cert.public_key()), sign=sign,
                        trust_anchor=Path(trust_anchor) if trust_anchor else None, tsa_url=tsa_url)


def describe(signer: StudioSigner) -> dict:
    """What `sitter keys show` prints: what signs, and how a verifier comes to trust it."""
    cert = _end_entity(signer.chain_pem, "the signer's chain")
    if signer.development:
        source = "development CA (development only: never use it to publish)"
    elif signer.sign is not None:
        source = "signing callback (KMS/HSM)"
    else:
        source = "certificate and key files"
    if signer.trust_anchor is not None:
        trust = (f"verifiers see these manifests as Trusted only when given {signer.trust_anchor} as a trust "
                 "anchor; without it they are Valid but untrusted (signingCredential.untrusted)")
    else:
        trust = "trusted by verifiers whose trust list includes the issuing CA"
    return {
        "source": source,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "fingerprint_sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "algorithm": signer.algorithm,
        "chain_length": len(x509.load_pem_x509_certificates(signer.chain_pem)),
        "timestamp_authority": signer.tsa_url,
        "trust_anchor": str(signer.trust_anchor) if signer.trust_anchor else None,
        "trust": trust,
    }


# helpers


def _create_development_ca(folder: Path) -> None:
    """Issue a DEVELOPMENT-ONLY CA and signer into `folder` (0700), private keys 0600, atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Sitter development CA (development only)")
    ca = (_certificate(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    signer = (_certificate(_name("Sitter development signer"), ca_name, signer_key.public_key(), now)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(_key_usage(digital_signature=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))

    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.mkdir(mode=0o700)
    try:
        _write(tmp / "ca.pem", ca.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(tmp / "ca.key", _private_pem(ca_key), 0o600)
        _write(tmp / "signer.pem", signer.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(tmp / "signer.key", _private_pem(signer_key), 0o600)
        os.rename(tmp, folder)  # atomic; fails if another process created the folder first: keep theirs
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _certificate(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
                 now: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + DEV_LIFETIME)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sitter studio"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False,
               crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False,
                         decipher_only=False)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise SigningMisconfigured(f"cannot read {path}: {err.strerror}") from None


def _end_entity(chain_pem: bytes, where: str) -> x509.Certificate:
    """The signing certificate (the chain's first), refused early when C2PA would refuse it at signing."""
    try:
        cert = x509.load_pem_x509_certificates(chain_pem)[0]
    except ValueError:
        raise SigningMisconfigured(f"{where} holds no PEM certificate") from None
    if cert.issuer == cert.subject:
        raise SigningMisconfigured(f"the signing certificate in {where} is self-signed: "
                            "C2PA needs one issued by a separate CA")
    return cert


def _check_validity(cert: x509.Certificate, where: str, *, fix: str) -> None:
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SigningMisconfigured(f"the signing certificate in {where} is valid only from "
                            f"{cert.not_valid_before_utc:%Y-%m-%d} to "
                            f"{cert.not_valid_after_utc:%Y-%m-%d}: {fix}")


def _algorithm(public_key: CertificatePublicKeyTypes) -> str:
    """The C2PA signing algorithm that goes with a key: ECDSA by curve, RSA as PSS, or Ed25519."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        if public_key.curve.name in by_curve:
            return by_curve[public_key.curve.name]
        raise SigningMisconfigured(f"C2PA cannot sign with an ECDSA key on {public_key.curve.name}: "
                            "use P-256, P-384 or P-521")
    if isinstance(public_key, rsa.RSAPublicKey):
        return "PS256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ED25519"
    raise SigningMisconfigured(f"C2PA cannot sign with a {type(public_key).__name__}: use ECDSA, RSA or Ed25519")


def _public_der(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
