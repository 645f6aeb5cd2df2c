#!/usr/bin/env python3
"""A bounded load test of an OpenAI-shaped speech server (e.g. `narrate serve`), from a second process.

Sends N POST /v1/audio/speech requests, C at a time, over loopback; each answer must be a 200 WAV. Prints one
JSON object: requests, failures, wall seconds, requests per second, latency percentiles in milliseconds.
Usage: loadtest.py URL [--requests 500] [--concurrency 8] [--distinct 40] [--voice V] [--model M]
Standard library only.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

WORDS = "river stone lantern harbour meadow window orchard signal pebble compass".split()


def sentence(n):
    # Distinct, ordinary sentences of 8 to 17 words; n picks one of `distinct` texts.
    words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(8 + n % 10)]
    return f"Sentence {n} speaks of the " + " and the ".join(words) + "."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--distinct", type=int, default=40)
    ap.add_argument("--voice", default="default")
    ap.add_argument("--model", default="tts-1")
    args = ap.parse_args()

    def one(i):
        body = json.dumps({"model": args.model, "voice": args.voice, "input": sentence(i % args.distinct),
                           "response_format": "wav"}).encode()
        req = urllib.request.Request(args.url.rstrip("/") + "/v1/audio/speech", data=body,
                                     headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                data = r.read()
                ok = r.status == 200 and data[:4] == b"RIFF" and len(data) > 1000
        except (urllib.error.URLError, OSError) as e:
            print(f"request {i}: {e}", file=sys.stderr)
            ok = False
        return ok, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(one, range(args.requests)))
    wall = time.perf_counter() - start
    lat = sorted(t for _, t in results)
    pct = lambda p: round(1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1)
    print(json.dumps({
        "requests": args.requests, "concurrency": args.concurrency, "distinct": args.distinct,
        "failures": sum(1 for ok, _ in results if not ok), "wall_s": round(wall, 2),
        "rps": round(args.requests / wall, 1), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
    }))
    return 1 if any(not ok for ok, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
