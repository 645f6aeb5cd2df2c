"""Transcribes a 16 kHz mono WAV with the offline recognizer pocketsphinx (its bundled en-us model) and prints
the words. Used by the integration tests as an independent check that synthesized speech is intelligible."""

import sys
import wave

from pocketsphinx import Decoder

with wave.open(sys.argv[1]) as w:
    assert w.getframerate() == 16000 and w.getnchannels() == 1, "needs 16 kHz mono"
    audio = w.readframes(w.getnframes())
decoder = Decoder(samprate=16000)
decoder.start_utt()
decoder.process_raw(audio, full_utt=True)
decoder.end_utt()
print(decoder.hyp().hypstr if decoder.hyp() else "")
