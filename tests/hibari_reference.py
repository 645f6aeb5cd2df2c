"""Makes tests/data/hibari-reference.json and tests/data/hibari-reference.f32 from the Python reference,
hibari-tts 0.2.1 (PyPI), for the hibari backend's fixture tests (src/synth/hibari/mod.rs):

- for each sentence, hibari's own G2P (phonemes, ids) and the notes' espeak->misaki mapping applied to the
  espeak-ng command line's IPA (`--ipa --sep=_`), written here independently of the Rust code;
- for the first sentences, the reference vocoder's audio (dsp.synth, float32) given the model's outputs for
  hibari's own ids at speed 1.0 and a fixed noise array (xorshift32, the rule `test_noise` below, which the Rust
  test computes too).

Run with the test venv:  target/test-venv/bin/python tests/hibari_reference.py
"""
import json, os, subprocess, sys

import numpy as np
from hibari import Hibari, dsp

SENTENCES = [
    "The pears were nearly ripe.",
    "Somebody left a ladder against the old stone wall, and nobody moved it.",
    "Four herons waited by the water while the tower clock struck nine.",
    "Would you bring the little bird's cage inside before it rains?",
    "George's church stood at the edge of the nation's oldest forest.",
]
VOCODED = 2

REPLACEMENTS = [("ɜːɹ", "ɜɹ"), ("aɪ", "I"), ("aʊ", "W"), ("eɪ", "A"), ("oʊ", "O"), ("ɔɪ", "Y"), ("dʒ", "ʤ"),
                ("tʃ", "ʧ"), ("əl", "ᵊl"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("n\u0329", "ᵊn"), ("l\u0329", "ᵊl"),
                ("e", "A"), ("r", "ɹ"), ("x", "k"), ("ç", "k"), ("ɐ", "ə"), ("ɚ", "əɹ"), ("ɬ", "l"), ("ʔ", "t"),
                ("o", "ɔ"), ("ᵻ", "ɪ"), ("ɾ", "T")]


def map_unit(u):
    stress = "".join(c for c in u if c in "ˈˌ")
    body = "".join(c for c in u if c not in "ˈˌ")
    for a, b in sorted(REPLACEMENTS, key=lambda r: -len(r[0])):
        body = body.replace(a, b)
    return stress + "".join(c for c in body if c not in "ː\u0329ʲ")


def map_word(w):
    out = ""
    pending = ""
    for u in w.split("_"):
        if not u:
            continue
        if all(c in "ˈˌ" for c in u):
            pending += u
            continue
        m = map_unit(pending + u)
        pending = ""
        body = m.lstrip("ˈˌ")
        if out.endswith("ɹ") and body.startswith("ɹ"):
            m = m[: len(m) - len(body)] + body[1:]
        out += m
    return out + pending


def espeak_words(text):
    ipa = subprocess.run(["espeak-ng", "-q", "-v", "en-us", "--ipa", "--sep=_", text], check=True,
                         capture_output=True, text=True).stdout
    return [map_word(w) for w in ipa.split()]


def test_noise(index, n):
    """xorshift32 from 0x9E3779B9 ^ index; each value the top 24 bits over 2^23, minus 1: in [-1, 1)."""
    x = (0x9E3779B9 ^ index) & 0xFFFFFFFF
    out = np.empty(n, np.float32)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = np.float32((x >> 8) / 8388608.0 - 1.0)
    return out


class FixedNoise:
    def __init__(self, values):
        self.values = values

    def standard_normal(self, shape, dtype):
        return self.values.reshape(shape).astype(dtype)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    tts = Hibari()
    cases, audio = [], []
    for i, text in enumerate(SENTENCES):
        chunks = tts.phonemize(text)
        assert len(chunks) == 1, chunks
        ids = tts.ids(chunks[0])
        case = {"text": text, "hibari_phonemes": chunks[0], "hibari_ids": ids, "espeak_mapped": espeak_words(text)}
        if i < VOCODED:
            out = tts.sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([1.0], np.float32)})
            lh, th, ln, lr, phi, f0 = (o[0] for o in out)
            frames = lh.shape[1]
            noise = test_noise(i, 601 * 2 * frames)
            wav = dsp.synth(lh, th, ln, lr, phi, f0, FixedNoise(noise)).astype("<f4")
            case["frames"] = frames
            case["audio_offset"] = sum(len(a) for a in audio)
            case["audio_len"] = len(wav)
            audio.append(wav)
        cases.append(case)
    with open(os.path.join(here, "data", "hibari-reference.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/hibari_reference.py", "reference": "hibari-tts 0.2.1",
                   "onnxruntime": __import__("onnxruntime").__version__, "fft": dsp.FFT_BACKEND, "cases": cases},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    np.concatenate(audio).tofile(os.path.join(here, "data", "hibari-reference.f32"))


if __name__ == "__main__":
    sys.exit(main())
