"""Receipts parsed and verified per second, on one thread, with synthetic signed copies.

    /work/venv/bin/python benchmarks/bench_parse.py [--count 2000] [--json]

Synthetic receipts (about 15 kB, like Aruba's) are signed with a throw-away CA built by the test
helpers in tests/receipts/receipts_builders.py; each one quotes a different Message-ID, so nothing
is answered from a cache except the chain, as in a real mailbox where one provider certificate signs
thousands of receipts. The real Namirial envelope from ../shared/reference/fixtures is measured too
when present (SHA-1, RSA-2048, real AgID CA1 chain). Figures go to /work/notes/readme-receipts.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "receipts"))

from receipts_builders import (  # noqa: E402
    NAMIRIAL,
    TestPki,
    daticert_xml,
    make_p7s,
    receipt_headers,
    signed_content,
    wrap_signed,
)

from pecmass_xl.receipts.outcome import classify  # noqa: E402
from pecmass_xl.receipts.parse import parse_message  # noqa: E402
from pecmass_xl.receipts.signature import SignatureVerifier  # noqa: E402

KINDS = ("accettazione", "avvenuta-consegna", "errore-consegna")
BODY = ("Ricevuta di prova. " * 40 + "\r\n") * 18  # ~14 kB of certification text


def make_receipts(count: int, pki: TestPki) -> list[bytes]:
    signer = pki.leaf()
    receipts = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        ref = f"<pecmass.BENCH.R{n:08d}.1@pec.test>"
        daticert = daticert_xml(
            kind,
            msgid=ref,
            consegna=None if kind == "accettazione" else "destinatario@pec.test",
            errore="altro" if kind == "errore-consegna" else "nessuno",
            errore_esteso="5.1.1 - Gestore - indirizzo non valido" if kind == "errore-consegna" else None,
        )
        content = signed_content(daticert, text=BODY)
        headers = receipt_headers(kind, ref=ref, message_id=f"<opec.bench.{n}@pec.test>")
        receipts.append(wrap_signed(headers, content, make_p7s(content, signer)))
    return receipts


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    pki = TestPki()
    receipts = make_receipts(args.count, pki)
    results: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "receipts": len(receipts),
        "avg_size_bytes": sum(map(len, receipts)) // len(receipts),
    }

    start = time.perf_counter()
    parsed = [parse_message(raw) for raw in receipts]
    outcomes = [classify(pm) for pm in parsed]
    elapsed = time.perf_counter() - start
    assert all(o is not None for o in outcomes)
    results["parsed_and_classified_per_s"] = rate(len(receipts), elapsed)

    verifier = SignatureVerifier([pki.root.pem])
    start = time.perf_counter()
    statuses = [verifier.verify(raw, parsed=pm).status for raw, pm in zip(receipts, parsed, strict=False)]
    elapsed = time.perf_counter() - start
    assert set(statuses) == {"verificata"}, set(statuses)
    results["verified_chain_memoised_per_s"] = rate(len(receipts), elapsed)

    start = time.perf_counter()
    for raw in receipts:
        pm = parse_message(raw)
        classify(pm)
        verifier.verify(raw, parsed=pm)
    results["parsed_classified_verified_per_s"] = rate(len(receipts), time.perf_counter() - start)

    sample = receipts[:50]
    start = time.perf_counter()
    for raw in sample:
        SignatureVerifier([pki.root.pem]).verify(raw)
    results["verified_uncached_per_s"] = rate(len(sample), time.perf_counter() - start)

    namirial = ROOT / ".." / "shared" / "reference" / "fixtures" / NAMIRIAL
    if namirial.is_file():
        raw = namirial.read_bytes()
        real = SignatureVerifier()
        start = time.perf_counter()
        first = real.verify(raw)
        results["namirial_first_verification_ms"] = round((time.perf_counter() - start) * 1000, 1)
        assert first.verified, first.reason
        pm = parse_message(raw)
        start = time.perf_counter()
        for _ in range(200):
            real.verify(raw, parsed=pm)
        results["namirial_verified_chain_memoised_per_s"] = rate(200, time.perf_counter() - start)

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:42} {value}")


if __name__ == "__main__":
    main()
