#!/usr/bin/env bash
# Regenerate the committed sample audio (espeak-ng + sox, Debian packages). Deterministic for a given
# espeak-ng version. Usage: scripts/make_samples.sh [OUT_DIR]
set -euo pipefail
out=${1:-samples}
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say() {  # say NAME "text"
  espeak-ng -v en-us -s 150 -w "$tmp/$1.raw.wav" "$2"
  sox "$tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "$out/$1.wav"
}
say weather "What is the weather like in Paris today?"
say timer "Set a timer for ten minutes."
say music "Please play some music."
say news "What is the news today?"
# Whisper tiny.en mishears this one (e.g. "Tell me, Ray, this dude's head, right?"); the gate must stop it or the
# Interpreter land it on news.
say misheard "Tell me the latest news headlines."
# Speech that asks for none of the intents: the Interpreter's gate stops it.
say offtopic "Purple elephants dance slowly."
say smalltalk "Hello, how are you doing today?"
sox -n -r 16000 -c 1 -b 16 "$out/silence.wav" trim 0 2
sox -n -r 16000 -c 1 -b 16 "$out/noise.wav" synth 3 whitenoise vol 0.5
