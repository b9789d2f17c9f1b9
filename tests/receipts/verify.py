import base64, hashlib, json
from blake3 import blake3  # pip install blake3 (a batch answer's leaf)
from cryptography.hazmat.primitives.serialization import load_pem_public_key

def verify(body, keys):  # body: a /v1/check answer, the bytes as received; keys: GET /v1/receipts/keys
    cut = body.rindex(b',"receipt":')  # the receipt comes last and signs the answer's bytes before it
    answer, receipt = body[:cut] + b"}", json.loads(body[cut + 11:-1])
    if receipt.get("leaf") == "blake3":  # a batch answer: its bytes hashed with BLAKE3 first
        h = hashlib.sha256(b"\x02" + blake3(answer).digest()).digest()
    else:
        h = hashlib.sha256(b"\x00" + answer).digest()
    path = base64.b64decode(receipt["path"])
    for side, s in ((path[i], path[i + 1:i + 33]) for i in range(0, len(path), 33)):
        h = hashlib.sha256(b"\x01" + (s + h if side == 0 else h + s)).digest()  # 0: s on the left
    signed = json.loads(receipt["signed"])
    assert signed["v"] == 2 and signed["merkle_root"] == h.hex(), "the answer or the path were altered"
    key = next(k for k in keys["keys"] if k["id"] == signed["key_id"])
    load_pem_public_key(key["public_key_pem"].encode()).verify(  # raises InvalidSignature
        base64.b64decode(receipt["signature"]), receipt["signed"].encode())
    return json.loads(answer)  # what tarcza signed: trust this, not the rest of the body
