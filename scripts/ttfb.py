"""Time to first byte and total time of one `POST /v1/audio/speech` (used by scripts/bench-http).

Usage: ttfb.py URL FORMAT VOICE TEXT_FILE  -> prints JSON {"first_byte_s", "total_s", "bytes"}
"""
import http.client
import json
import sys
import time
import urllib.parse

url, fmt, voice, path = sys.argv[1:5]
text = open(path).read()
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
body = json.dumps({"model": "tts-1", "voice": voice, "input": text, "response_format": fmt})
start = time.monotonic()
conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
response = conn.getresponse()
if response.status != 200:
    sys.exit(f"{response.status}: {response.read()[:300]!r}")
first = response.read(1)
first_byte = time.monotonic() - start
rest = response.read()
total = time.monotonic() - start
print(json.dumps({"first_byte_s": round(first_byte, 3), "total_s": round(total, 3), "bytes": len(first) + len(rest)}))
