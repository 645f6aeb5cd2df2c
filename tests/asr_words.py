"""Where each word is in a 16 kHz mono WAV, by the offline recognizer pocketsphinx (its bundled en-us model),
independent of the voice that spoke it: prints `word start end` (seconds) per line from `decoder.seg()`, whose
frames are 10 ms. With a second argument, the text is aligned to the audio (pocketsphinx's forced alignment);
without, the words are what it recognizes. Fillers, silences and sentence marks are left out."""

import sys
import wave

from pocketsphinx import Decoder

with wave.open(sys.argv[1]) as w:
    assert w.getframerate() == 16000 and w.getnchannels() == 1, "needs 16 kHz mono"
    audio = w.readframes(w.getnframes())
decoder = Decoder(samprate=16000)
if len(sys.argv) > 2:
    decoder.set_align_text(sys.argv[2])
decoder.start_utt()
decoder.process_raw(audio, full_utt=True)
decoder.end_utt()
for seg in decoder.seg():
    word = seg.word
    if word in ("<s>", "</s>", "<sil>") or word.startswith("[") or word.startswith("++"):
        continue
    word = word.split("(")[0]
    print(f"{word} {seg.start_frame / 100:.2f} {(seg.end_frame + 1) / 100:.2f}")
