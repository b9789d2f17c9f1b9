"""Verifies a tarcza decision receipt offline: the README's example, word for word."""
import base64, hashlib, json
from cryptography.hazmat.primitives.serialization import load_pem_public_key

def verify(receipt, keys):
    """receipt: the "receipt" of a /v1/check answer; keys: GET /v1/receipts/keys. Raises if forged."""
    h = hashlib.sha256(b"\x00" + receipt["claims"].encode()).digest()
    for step in receipt["path"]:  # "L:<sibling>" or "R:<sibling>", base64
        sibling = base64.b64decode(step[2:])
        h = hashlib.sha256(b"\x01" + (sibling + h if step[0] == "L" else h + sibling)).digest()
    signed = json.loads(receipt["signed"])
    assert signed["merkle_root"] == h.hex(), "the claims or the path were altered"
    key = next(k for k in keys["keys"] if k["id"] == signed["key_id"])
    load_pem_public_key(key["public_key_pem"].encode()).verify(
        base64.b64decode(receipt["signature"]), receipt["signed"].encode())  # raises InvalidSignature
    return json.loads(receipt["claims"])
