"""Runs inside bench/.venv-cose (python-cwt, cbor2 < 6): never imports cirqliz or bench.

Verifies one COSE_Sign1 with python-cwt and decodes its claims, in batches on request, so the
caller can interleave these batches with its own. Protocol on stdin/stdout, one line each:
argv[1] is a JSON file {"cose": hex, "pem": text, "kid": hex}; the worker prints "ready", then for
each line "N" it runs N verifications and prints the seconds they took; an empty line ends it.
"""

import gc
import json
import sys
import time

import cbor2
from cwt import COSE, COSEKey


def main() -> None:
    with open(sys.argv[1]) as fp:
        spec = json.load(fp)
    data = bytes.fromhex(spec["cose"])
    key = COSEKey.from_pem(spec["pem"].encode(), alg="ES256", kid=bytes.fromhex(spec["kid"]))
    ctx = COSE.new()
    claims = cbor2.loads(ctx.decode(data, key))  # fails loudly if the token does not verify
    print("ready", len(claims), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        number = int(line)
        gc.disable()
        start = time.perf_counter()
        for _ in range(number):
            cbor2.loads(ctx.decode(data, key))
        elapsed = time.perf_counter() - start
        gc.enable()
        print(elapsed, flush=True)


if __name__ == "__main__":
    main()
