"""The studio's signing keys: a development CA made once with private modes, user chains, callbacks."""

import datetime as dt
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.errors import SigningMisconfigured
from provenance.keys import (
    DOCUMENT_SIGNING,
    callback_signer,
    certificate_signer,
    describe,
    development_signer,
)
from provenance.manifest import ManifestContent, read_manifest, sign_video

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def user_chain(tmp_path: Path) -> dict[str, Path]:
    """A chain a studio made itself: root CA -> intermediate CA -> signer, as PEM files on disk."""
    root_key, mid_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _issue("Museum Root CA", root_key, "Museum Root CA", root_key, ca=True)
    mid = _issue("Museum Signing CA", mid_key, "Museum Root CA", root_key, ca=True)
    signer = _issue("Museum C2PA signer", signer_key, "Museum Signing CA", mid_key, ca=False)
    paths = {name: tmp_path / "user" / f"{name}.pem" for name in ("chain", "key", "root")}
    paths["chain"].parent.mkdir()
    paths["chain"].write_bytes(_pem(signer) + _pem(mid))
    paths["key"].write_bytes(_key_pem(signer_key))
    paths["root"].write_bytes(_pem(root))
    return paths


def test_the_development_ca_is_made_once_with_private_files(tmp_path: Path) -> None:
    keys = tmp_path / "data" / "keys"
    first = development_signer(keys)
    folder = keys / "c2pa-dev"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "signer.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    assert first.development and first.trust_anchor == folder / "ca.pem"
    assert sorted(p.name for p in folder.iterdir()) == ["ca.key", "ca.pem", "signer.key", "signer.pem"]
    assert not [p for p in keys.iterdir() if p.name.endswith(".tmp")]  # the temporary folder is gone
    again = development_signer(keys)
    assert (again.chain_pem, again.private_key_pem) == (first.chain_pem, first.private_key_pem)


def test_processes_starting_at_once_share_one_development_ca(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        signers = list(pool.map(development_signer, [tmp_path / "keys"] * 8))
    assert len({s.chain_pem for s in signers}) == 1
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["c2pa-dev"]


def test_the_development_signer_has_the_profile_c2pa_requires(tmp_path: Path) -> None:
    signer = development_signer(tmp_path / "keys")
    cert = x509.load_pem_x509_certificate(signer.chain_pem)
    ca = x509.load_pem_x509_certificate(signer.trust_anchor.read_bytes())
    assert cert.version is x509.Version.v3
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    assert cert.issuer == ca.subject != cert.subject  # issued by a separate CA, not self-signed
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING} <= usages
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ski
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert "development" in ca.subject.rfc4514_string()
    assert signer.algorithm == "ES256"


def test_keys_show_says_what_signs_and_how_to_trust_it(tmp_path: Path) -> None:
    signer = development_signer(tmp_path / "keys")
    shown = describe(signer)
    cert = x509.load_pem_x509_certificate(signer.chain_pem)
    assert shown["subject"] == "CN=Sitter development signer,O=Sitter studio"
    assert shown["issuer"].startswith("CN=Sitter development CA")
    assert shown["fingerprint_sha256"] == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert dt.datetime.fromisoformat(shown["not_before"]) < NOW < dt.datetime.fromisoformat(shown["not_after"])
    assert shown["algorithm"] == "ES256"
    assert shown["trust_anchor"] == str(tmp_path / "keys" / "c2pa-dev" / "ca.pem")
    assert "development only" in shown["source"]
    assert shown["trust_anchor"] in shown["trust"]


def test_a_self_made_chain_from_user_paths_signs_trusted_manifests(tmp_path: Path, user_chain, clip: Path) -> None:
    signer = certificate_signer(user_chain["chain"], user_chain["key"], trust_anchor=user_chain["root"])
    assert describe(signer)["chain_length"] == 2 and describe(signer)["source"] == "certificate and key files"
    sign_video(clip, tmp_path / "signed.mp4", _content(), signer)
    report = read_manifest(tmp_path / "signed.mp4", trust_anchors=[user_chain["root"]])
    assert (report.validation_state, report.signer, report.failures) == ("Trusted", "Museum C2PA signer", ())


def test_a_callback_signer_keeps_the_key_elsewhere(tmp_path: Path, user_chain, clip: Path) -> None:
    key = serialization.load_pem_private_key(user_chain["key"].read_bytes(), password=None)
    calls = []

    def kms_sign(data: bytes) -> bytes:  # stands in for a KMS or HSM call
        calls.append(len(data))
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    signer = callback_signer(user_chain["chain"].read_bytes(), kms_sign, trust_anchor=user_chain["root"])
    assert signer.private_key_pem is None and describe(signer)["source"] == "signing callback (KMS/HSM)"
    sign_video(clip, tmp_path / "signed.mp4", _content(), signer)
    assert calls
    assert read_manifest(tmp_path / "signed.mp4", trust_anchors=[user_chain["root"]]).trusted


def test_a_self_signed_certificate_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "self.pem").write_bytes(_pem(_issue("Me", key, "Me", key, ca=False)))
    (tmp_path / "self.key").write_bytes(_key_pem(key))
    with pytest.raises(SigningMisconfigured, match="self-signed"):
        certificate_signer(tmp_path / "self.pem", tmp_path / "self.key")


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path, user_chain) -> None:
    (tmp_path / "other.key").write_bytes(_key_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(SigningMisconfigured, match=r"other\.key is not the private key"):
        certificate_signer(user_chain["chain"], tmp_path / "other.key")


def test_unusable_files_are_named_in_the_error(tmp_path: Path, user_chain) -> None:
    (tmp_path / "empty.pem").write_text("not a certificate")
    with pytest.raises(SigningMisconfigured, match=r"empty\.pem holds no PEM certificate"):
        certificate_signer(tmp_path / "empty.pem", user_chain["key"])
    with pytest.raises(SigningMisconfigured, match=r"cannot read .*missing\.pem"):
        certificate_signer(tmp_path / "missing.pem", user_chain["key"])
    with pytest.raises(SigningMisconfigured, match="not an unencrypted PEM private key"):
        certificate_signer(user_chain["chain"], user_chain["root"])


def test_an_expired_certificate_is_refused_before_signing(tmp_path: Path) -> None:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    old = _issue("Old signer", key, "Old CA", ca_key, ca=False, days=(-30, -1))
    (tmp_path / "old.pem").write_bytes(_pem(old))
    (tmp_path / "old.key").write_bytes(_key_pem(key))
    with pytest.raises(SigningMisconfigured, match=r"valid only from .* renew"):
        certificate_signer(tmp_path / "old.pem", tmp_path / "old.key")


# helpers


def _content() -> ManifestContent:
    return ManifestContent(title="sitter-0123abcd.mp4", sources=(), record_id="0123456789abcdef",
                           record_hash="c" * 64, watermark_id="9f3a61c2", watermark_alg="org.sitter.test.1",
                           engine="warp", engine_version="0.1.0")


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
           *, ca: bool, days: tuple[int, int] = (-1, 365)) -> x509.Certificate:
    """A certificate the way openssl would make one for C2PA: CA certificates sign, signers don't."""
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW + dt.timedelta(days=days[0]))
               .not_valid_after(NOW + dt.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                            encipher_only=False, decipher_only=False), critical=True))
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
