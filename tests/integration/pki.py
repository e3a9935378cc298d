"""Test PKI made with the `openssl` command-line tool (Debian package `openssl`).

make_pki(directory) writes a throw-away CA and a leaf certificate for the test origins
(DNS:origin.test, DNS:localhost, IP:127.0.0.1; other names with `names=`) signed by it, and
returns their paths. The CA is
only ever trusted by the test clients (curl --cacert, Python ssl) and, where a test needs it, by
the proxy through `upstream.ca_file`.
"""

import atexit
import base64
import os
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass

OPENSSL = shutil.which("openssl")

LEAF_NAMES = ("origin.test", "localhost")
LEAF_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class Pki:
    directory: str
    ca_pem: str
    ca_key: str
    leaf_pem: str
    leaf_key: str

    def leaf_der(self) -> bytes:
        """The leaf certificate in DER form (what a TLS peer presents)."""
        with open(self.leaf_pem, "rb") as f:
            return ssl.PEM_cert_to_DER_cert(f.read().decode("ascii"))

    def leaf_base64(self) -> str:
        """The base64 body of the leaf PEM on one line (to look for it in tool output)."""
        return base64.b64encode(self.leaf_der()).decode("ascii")

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.leaf_pem, self.leaf_key)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        return ctx


def _run(args, cwd):
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(
            "openssl %s failed (%d): %s" % (" ".join(args), proc.returncode,
                                           proc.stderr.decode(errors="replace")))


def make_pki(directory: str, names=LEAF_NAMES, ips=LEAF_IPS) -> Pki:
    """Creates ca.pem/ca.key and leaf.pem/leaf.key in `directory` (EC P-256, valid 2 days).
    The leaf covers DNS `names` and IP `ips` (default: the test origins' LEAF_NAMES/LEAF_IPS;
    e.g. names=("api.openai.com",) for an origin that stands in for a real AI host)."""
    names, ips = tuple(names), tuple(ips)
    if not names:
        raise ValueError("make_pki: the leaf needs at least one DNS name")
    if OPENSSL is None:
        raise RuntimeError("the `openssl` command is needed (Debian package `openssl`)")
    os.makedirs(directory, exist_ok=True)
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
          "-subj", "/CN=aiwarden integration test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"], directory)
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + ip for ip in ips])
    with open(os.path.join(directory, "leaf.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n"
                "subjectAltName=%s\n" % san)
    _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
          "-subj", "/CN=%s" % names[0]], directory)
    _run(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
          "-set_serial", "0x%x" % int.from_bytes(os.urandom(8), "big"),
          "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem"], directory)
    for key in ("ca.key", "leaf.key"):
        os.chmod(os.path.join(directory, key), 0o600)
    return Pki(directory=directory,
               ca_pem=os.path.join(directory, "ca.pem"),
               ca_key=os.path.join(directory, "ca.key"),
               leaf_pem=os.path.join(directory, "leaf.pem"),
               leaf_key=os.path.join(directory, "leaf.key"))


_shared = None


def shared_pki() -> Pki:
    """One PKI per test process, removed at exit."""
    global _shared
    if _shared is None:
        directory = tempfile.mkdtemp(prefix="aiw-pki-")
        atexit.register(shutil.rmtree, directory, True)
        _shared = make_pki(directory)
    return _shared


# ---------------------------------------------------------------------------------------------
# Extra origin certificates for the upstream-verification tests (issue 3, acceptance 4).
@dataclass(frozen=True)
class LeafCert:
    """A leaf certificate and its key, for one more test origin."""
    cert_pem: str
    key_pem: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_pem, self.key_pem)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


def _need_openssl():
    if OPENSSL is None:
        raise RuntimeError("the `openssl` command is needed (Debian package `openssl`)")


def make_self_signed_leaf(directory: str, name: str) -> LeafCert:
    """A self-signed certificate for DNS:`name` (no CA behind it; EC P-256, valid 2 days)."""
    _need_openssl()
    os.makedirs(directory, exist_ok=True)
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2",
          "-subj", "/CN=%s" % name,
          "-addext", "basicConstraints=critical,CA:FALSE",
          "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
          "-addext", "extendedKeyUsage=serverAuth",
          "-addext", "subjectAltName=DNS:%s" % name], directory)
    os.chmod(os.path.join(directory, "self.key"), 0o600)
    return LeafCert(os.path.join(directory, "self.pem"), os.path.join(directory, "self.key"))


def make_ca_signed_leaf(pki: Pki, directory: str, name: str, startdate: str = None,
                        enddate: str = None, days: int = 2) -> LeafCert:
    """A leaf for DNS:`name` signed by `pki`'s CA with `openssl ca`, so that the validity can be
    set explicitly: `startdate`/`enddate` in ASN.1 form (YYYYMMDDHHMMSSZ), e.g. both in the past
    for an expired certificate. Without them it is valid from now for `days` days."""
    _need_openssl()
    os.makedirs(directory, exist_ok=True)
    stem = "leaf-" + name
    db = os.path.join(directory, "ca-db")
    os.makedirs(os.path.join(db, "new"), exist_ok=True)
    open(os.path.join(db, "index.txt"), "a").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("%x\n" % (int.from_bytes(os.urandom(8), "big") | (1 << 63)))
    conf = os.path.join(directory, stem + ".cnf")
    with open(conf, "w") as f:
        f.write("[ca]\n"
                "default_ca = test_ca\n"
                "[test_ca]\n"
                "dir = %s\n"
                "database = $dir/index.txt\n"
                "new_certs_dir = $dir/new\n"
                "serial = $dir/serial\n"
                "certificate = %s\n"
                "private_key = %s\n"
                "default_md = sha256\n"
                "default_days = %d\n"
                "policy = policy_any\n"
                "unique_subject = no\n"
                "copy_extensions = none\n"
                "x509_extensions = leaf_ext\n"
                "[policy_any]\n"
                "commonName = supplied\n"
                "[leaf_ext]\n"
                "basicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid\n"
                "subjectAltName = DNS:%s\n" % (db, pki.ca_pem, pki.ca_key, days, name))
    _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", stem + ".key", "-out", stem + ".csr",
          "-subj", "/CN=%s" % name], directory)
    args = ["ca", "-batch", "-config", conf, "-notext", "-in", stem + ".csr",
            "-out", stem + ".pem"]
    if startdate:
        args += ["-startdate", startdate]
    if enddate:
        args += ["-enddate", enddate]
    _run(args, directory)
    os.chmod(os.path.join(directory, stem + ".key"), 0o600)
    return LeafCert(os.path.join(directory, stem + ".pem"),
                    os.path.join(directory, stem + ".key"))
