"""Decision receipts checked by an independent verifier (Python `cryptography`, and `blake3`
for a batch answer's leaf), against a real `tarcza serve` with its embedded PostgreSQL, as a
dialer would: an answer's receipt verifies from the raw body with the README's few lines
(verify.py); a tampered answer does not; a batch answer's receipt signs its results; a
receipt issued before a key rotation verifies after it.

Usage: python tests/receipts/check.py target/debug/tarcza     (run by .ci/run)
"""
import base64, hashlib, json, os, signal, socket, subprocess, sys, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.dirname(__file__))
from verify import verify  # noqa: E402  (the README's example)

ADMIN = "tz_receipts_check_admin_key_0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tarcza:
    def __init__(self, binary, data_dir, **env):
        self.port = free_port()
        self.log = open(os.path.join(os.path.dirname(data_dir), f"tarcza-{self.port}.log"), "w")
        environment = {"PATH": os.environ["PATH"], "TARCZA_DATA_DIR": data_dir,
                       "TARCZA_BIND": f"127.0.0.1:{self.port}", "TARCZA_BOOTSTRAP_ADMIN_KEY": ADMIN,
                       "TARCZA_LOG": "warn", **env}
        self.process = subprocess.Popen([binary, "serve"], env=environment,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if self.call("GET", "/readyz", key=None)[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"tarcza did not start; see {self.log.name}")

    def call(self, method, path, body=None, key=ADMIN):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method, path, body=None, key=ADMIN):
        return json.loads(self.raw(method, path, body, key))

    def raw(self, method, path, body=None, key=ADMIN):
        status, raw = self.call(method, path, body, key)
        assert 200 <= status < 300, (status, raw)
        return raw

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def refused(body, keys):
    try:
        verify(body, keys)
    except (AssertionError, InvalidSignature, ValueError):
        return True
    return False


def path_steps(body):
    return len(base64.b64decode(json.loads(body)["receipt"]["path"])) // 33


def main(binary):
    work = tempfile.mkdtemp(prefix="tarcza-receipts-")
    os.chmod(work, 0o711)  # as root, PostgreSQL runs as `postgres` and must reach the data dir
    data = os.path.join(work, "data")
    t = Tarcza(binary, data)
    try:
        t.json("POST", "/v1/dnc", {"number": "601 234 567", "reason": "said stop"})
        keys = t.json("GET", "/v1/receipts/keys", key=None)
        raw = t.raw("GET", "/v1/check?number=601234567&client=acme")
        answer = verify(raw, keys)
        assert answer == {k: v for k, v in json.loads(raw).items() if k != "receipt"}, answer
        assert answer["number"] == "+48601234567" and answer["allowed"] is False, answer
        assert answer["client"] == "acme" and answer["reasons"][0]["source"] == "dnc", answer
        assert "snapshot_version" in answer and "registries" in answer, answer
        allowed = verify(t.raw("GET", "/v1/check?number=501234567"), keys)
        assert allowed["allowed"] is True and "client" not in allowed, allowed

        # Concurrent checks share signatures: their receipts carry Merkle paths.
        with ThreadPoolExecutor(max_workers=32) as pool:
            bodies = list(pool.map(lambda i: t.raw("GET", f"/v1/check?number=6012345{i:02}"),
                                   range(64)))
        for b in bodies:
            assert verify(b, keys)["number"] == json.loads(b)["number"]
        longest = max(path_steps(b) for b in bodies)
        assert longest > 0, "no two of 64 concurrent checks shared a signature"

        # Tampered: one byte of the verdict; one byte of a reason; the verdict turned round;
        # a member added after the receipt; the statement changed; the signature changed.
        assert raw.count(b'"allowed":false') == 1 and raw.count(b'"source":"dnc"') == 1
        for forged in (raw.replace(b'"allowed":false', b'"allowed":fals\x00'),
                       raw.replace(b'"source":"dnc"', b'"source":"dnC"'),
                       raw.replace(b'"allowed":false', b'"allowed":true'),
                       raw[:-1] + b',"allowed":true}'):
            assert forged != raw
            assert refused(forged, keys), f"a tampered answer verified: {forged[:80]}"
        receipt = json.loads(raw)["receipt"]
        cut = raw.rindex(b',"receipt":')
        signed = json.loads(receipt["signed"])
        forged = raw[:cut].replace(b'"allowed":false', b'"allowed":true') + b"}"
        signed["merkle_root"] = hashlib.sha256(b"\x00" + forged).hexdigest()
        restated = dict(receipt, path="", signed=json.dumps(signed, separators=(",", ":")))
        assert refused(forged[:-1] + b',"receipt":' + json.dumps(restated).encode() + b"}", keys), \
            "an answer with an altered statement verified"
        signature = bytearray(base64.b64decode(receipt["signature"]))
        signature[0] ^= 1
        bad = dict(receipt, signature=base64.b64encode(bytes(signature)).decode())
        assert refused(raw[:cut] + b',"receipt":' + json.dumps(bad).encode() + b"}", keys), \
            "an answer with an altered signature verified"

        # A batch: one receipt over the whole answer, its results included, its leaf over
        # the BLAKE3 of the bytes ("leaf":"blake3"); without that mark it does not verify.
        status, batch_raw = t.call("POST", "/v1/check",
                                   {"numbers": ["601234567", "501234567", "x"], "client": "acme"})
        assert status == 200, batch_raw
        assert json.loads(batch_raw)["receipt"]["leaf"] == "blake3", batch_raw
        batch = verify(batch_raw, keys)
        assert [r.get("allowed") for r in batch["results"]] == [False, True, None], batch
        assert batch["client"] == "acme" and "registries" in batch, batch
        changed = batch_raw.replace(b'"allowed":false', b'"allowed":true', 1)
        assert refused(changed, keys), "a batch answer with a changed result verified"
        unmarked = batch_raw.replace(b'"leaf":"blake3",', b"", 1)
        assert unmarked != batch_raw and refused(unmarked, keys), "a batch leaf passed for a plain one"
        # A big batch (5 000 numbers, ~0.4 MB: BLAKE3 hashes it in chunks and a tree of its own).
        numbers = [f"6{i:08d}" for i in range(5000)]
        status, big = t.call("POST", "/v1/check", {"numbers": numbers})
        assert status == 200 and len(big) > 300_000, (status, len(big))
        assert [r["number"] for r in verify(big, keys)["results"]] == [f"+48{n}" for n in numbers]
        assert refused(big.replace(b'"allowed":true', b'"allowed":fals\x00', 1), keys)

        key_file = os.path.join(data, "receipt-key.pem")
        assert os.stat(key_file).st_mode & 0o777 == 0o600, oct(os.stat(key_file).st_mode)
        old_id = json.loads(raw)["receipt"]["key_id"]
    finally:
        t.stop()

    # Rotation: a new key (made the way README says, here with `cryptography`) signs…
    new_key = os.path.join(work, "new-key.pem")
    with open(os.open(new_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    t = Tarcza(binary, data, TARCZA_RECEIPT_KEY_FILE=new_key)
    try:
        keys = t.json("GET", "/v1/receipts/keys", key=None)
        assert keys["signing_key_id"] != old_id, keys
        newer = t.raw("GET", "/v1/check?number=601234567")
        verify(newer, keys)
        assert json.loads(newer)["receipt"]["key_id"] == keys["signing_key_id"]
        # …and the answer from before the rotation still verifies, with the keys published now.
        assert verify(raw, keys)["allowed"] is False
        old = next(k for k in keys["keys"] if k["id"] == old_id)
        assert old["valid_from"], old
    finally:
        t.stop()
    subprocess.run(["rm", "-rf", work], check=False)
    print(f"receipts: verified by Python cryptography (single, 64 concurrent with paths of up to "
          f"{longest} steps, batches of 3 and 5 000 numbers, after a key rotation); 9 kinds of "
          f"tampering refused")


if __name__ == "__main__":
    main(sys.argv[1])
