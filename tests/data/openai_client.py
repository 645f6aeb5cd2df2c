"""OpenAI's own Python client against `narrate serve`, as its docs show it; prints what happened as JSON.

Usage: openai_client.py BASE_URL MODE OUT_DIR [HOLD_FILE]
  formats  speech.create with OpenAI's defaults (out/default.mp3), then every response_format (out/speech.FMT)
  stream   with_streaming_response: creates HOLD_FILE once the first bytes have arrived (the server holds the
           last sentence until then), then reads the rest (out/stream.wav)
  errors   requests the server must refuse, as the client's typed exceptions
"""

import json
import os
import sys

import openai

base, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
token = os.environ.get("NARRATE_TEST_TOKEN", "not-needed")
client = openai.OpenAI(base_url=base + "/v1", api_key=token, timeout=300, max_retries=0)
text = os.environ["NARRATE_TEST_INPUT"]
voice = os.environ.get("NARRATE_TEST_VOICE", "alloy")
result = {}

if mode == "formats":
    response = client.audio.speech.create(model="tts-1", voice=voice, input=text)
    response.write_to_file(os.path.join(out, "default.mp3"))
    result["default_content_type"] = response.response.headers.get("content-type")
    for fmt in ["mp3", "opus", "aac", "flac", "wav", "pcm"]:
        response = client.audio.speech.create(
            model="tts-1-hd", voice=voice, input=text, response_format=fmt,
            instructions="Speak calmly.",
        )
        response.write_to_file(os.path.join(out, "speech." + fmt))
        result[fmt] = response.response.headers.get("content-type")
elif mode == "stream":
    hold = sys.argv[4]
    events = []
    data = bytearray()
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice=voice, input=text, response_format="wav"
    ) as response:
        for chunk in response.iter_bytes():
            if not data:
                # The last sentence cannot be synthesized before this file exists.
                events.append(["first_bytes", len(chunk), os.path.exists(hold)])
                open(hold, "w").close()
            data.extend(chunk)
    events.append(["end", len(data)])
    with open(os.path.join(out, "stream.wav"), "wb") as f:
        f.write(data)
    result["events"] = events
elif mode == "errors":
    cases = {
        "unknown_voice": dict(model="tts-1", voice="nobody", input=text),
        "unknown_model": dict(model="whisper-1", voice="alloy", input=text),
        "bad_format": dict(model="tts-1", voice="alloy", input=text, response_format="ogg"),
        "too_fast": dict(model="tts-1", voice="alloy", input=text, speed=9),
        "too_long": dict(model="tts-1", voice="alloy", input="word " * 1000),
    }
    for name, args in cases.items():
        try:
            client.audio.speech.create(**args)
            result[name] = {"exception": None}
        except openai.APIStatusError as e:
            result[name] = {
                "exception": type(e).__name__,
                "status": e.status_code,
                "code": e.code,
                "type": e.type,
                "message": e.message,
            }
    bad = openai.OpenAI(base_url=base + "/v1", api_key="wrong-token", max_retries=0)
    try:
        bad.audio.speech.create(model="tts-1", voice="alloy", input=text)
        result["wrong_token"] = {"exception": None}
    except openai.APIStatusError as e:
        result["wrong_token"] = {"exception": type(e).__name__, "status": e.status_code, "code": e.code}
print(json.dumps(result))
