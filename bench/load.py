"""The editor under load (the hardening issue): N concurrent sessions for a while with no errors and
the server's memory flat. Target: 8 users for 5 minutes, 0 errors, RSS growth under 10%.

The app server runs in a subprocess on 127.0.0.1 with a fresh data folder. Each simulated user is a
`gradio_client.Client` with its own session and owner cookie, doing what a person in the browser
does: Create a small world from the box layout editor (a bed, two lamps, a wardrobe; procedural frames, draft effort),
then rounds of: orbit, walk, turn, select by phrase ("the bed", "all lamps", "the wardrobe"), recolour,
move, undo, redo, a phrase that matches nothing (a visible message is the expected answer), export
.ply and download it. Rounds repeat until --seconds have passed (a round once begun is finished, so
every user makes every kind of call). The worlds are small (WORLD: the server's generation options,
as the browser tests use) because generation is one at a time and a default draft takes ~50 s here.

Figures per action: calls, errors (an exception in the client, or an "Error:" reply where success
was expected), latency p50 / p95 / max ("create" under load includes the wait for the other users'
worlds). The server's RSS (VmRSS) is sampled every second; growth is from just after warm-up (every
user has its world and has done one full round) to just before the deadline (5 s medians), with the
trend between them in MB/min; also the peak, and the size of gradio's file cache on disk at the end.
Reference, measured first in the same run: one user alone for --alone-seconds of rounds after
creating its world; printed as "p95 under load / alone" per action and as throughput (calls per
second once every world exists) under load / alone.

    .venv/bin/python bench/load.py [--users 8] [--seconds 300] [--alone-seconds 30]

Exits non-zero if any call failed, the server logged a traceback, or RSS grew 10% or more. The last line is one JSON object with
every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the project: bench/rtfm.py must not shadow rtfm/

from machine import describe  # noqa: E402

SERVER = """
import json, sys, uvicorn
from app.server import create_app
app = create_app(sys.argv[1], generate_options=json.loads(sys.argv[3]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
WORLD = {"frames": 8, "resolution": 64, "lift_steps": 60, "flythrough": False, "engine": "rules"}
TINY_WORLD = {"frames": 4, "resolution": 48, "lift_steps": 30, "flythrough": False, "engine": "rules"}  # tests
BOX_HEADERS = ["label", "color", "x", "y", "z", "size x", "size y", "size z", "yaw"]
BOXES = [["bed", "#3355aa", 0.0, 0.0, 0.0, 1.6, 2.0, 0.6, 0.0], ["lamp", "#dddd55", 1.5, 1.5, 0.0, 0.3, 0.3, 1.4, 0.0],
         ["lamp", "#dd5555", -1.5, 1.5, 0.0, 0.3, 0.3, 1.4, 0.0],
         ["wardrobe", "#8a6f4e", 2.2, -1.5, 0.0, 1.0, 0.6, 2.0, 0.0]]
PHRASES = ["the bed", "all lamps", "the wardrobe"]
NO_MATCH = "the purple piano"
MOVES = {"orbit": ["orbit left", "orbit right", "zoom in", "zoom out"], "walk": ["forward", "back", "left", "right"],
         "turn": ["turn left", "turn right", "look up", "look down"]}
ACTIONS = ("create", "model", "orbit", "walk", "turn", "select", "select_none", "recolor", "move", "undo", "redo", "export",
           "download")
FAILURES = ("connect", "stuck")  # not actions: a session that could not start, or never ended
CALL_TIMEOUT_S = 60.0
CREATE_TIMEOUT_S = 600.0  # generation is queued one at a time behind every other user's
RSS_GROWTH_LIMIT = 10.0


# ---- the server ---------------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    pid: int
    log: Path
    downloads: Path
    cache: Path  # gradio's copies of every file it served (GRADIO_TEMP_DIR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 240) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.5)
    raise RuntimeError(f"the app did not answer in {timeout_s:.0f} s")


@contextmanager
def app_server(world: dict):
    """The editor in a subprocess with a fresh data folder; killed and the folder removed after."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = _free_port()
    log = tmp / "server.log"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = None
    try:
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp / "data"), str(port), json.dumps(world)],
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, url, log)
        yield Server(url, proc.pid, log, tmp / "client", tmp / "gradio")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def server_tracebacks(log: Path) -> list[str]:
    """The last line of each traceback the server logged (gradio logs an unexpected exception so)."""
    lines = log.read_text(errors="replace").splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line.startswith((" ", "\t")):
            out.append(line[:300])
            inside = False
    return out


class RssSampler:
    """VmRSS of a process every second, in MB, on a background thread."""

    def __init__(self, pid: int, every_s: float = 1.0):
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (monotonic time, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kb / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.rss_mb()))
            except (OSError, StopIteration):
                return  # the process is gone
            self._stop.wait(self.every_s)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def median_between(self, t0: float, t1: float) -> float:
        window = [mb for t, mb in self.samples if t0 <= t <= t1]
        return statistics.median(window) if window else float("nan")


# ---- what the users record --------------------------------------------------------------------------------
@dataclass
class Stats:
    """Latencies and errors per action, shared by every user of a phase."""

    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: dict = field(default_factory=lambda: defaultdict(int))
    messages: list = field(default_factory=list)
    finished: list = field(default_factory=list)  # (monotonic time, action) of every call
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, user: int, action: str, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.latencies[action].append(seconds)
            self.finished.append((time.monotonic(), action))
            if problem is not None:
                self.errors[action] += 1
                if len(self.messages) < 20:
                    self.messages.append(f"user {user} {action}: {problem}"[:400])

    def calls(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def rate(self, t0: float, t1: float) -> float | None:
        """Calls per second (creating a world aside) that finished between t0 and t1."""
        n = sum(t0 <= t <= t1 for t, a in self.finished if a not in ("create", "model", *FAILURES))
        return n / (t1 - t0) if t1 > t0 else None

    def summary(self, action: str) -> dict:
        xs = sorted(self.latencies.get(action, []))
        if not xs:
            return {"calls": 0, "errors": self.errors.get(action, 0)}
        return {"calls": len(xs), "errors": self.errors.get(action, 0), "p50_s": _quantile(xs, 0.5),
                "p95_s": _quantile(xs, 0.95), "max_s": xs[-1]}


def _quantile(sorted_xs: list[float], q: float) -> float:
    i = min(len(sorted_xs) - 1, max(0, round(q * (len(sorted_xs) - 1))))
    return sorted_xs[i]


# ---- a simulated user ---------------------------------------------------------------------------------------
def _endpoints(config: dict) -> dict[str, str]:
    """Button caption -> api name (the handlers' own names repeat: handler, handler_1, ...)."""
    captions = {c["id"]: c.get("props", {}).get("value") for c in config["components"] if c.get("type") == "button"}
    out = {}
    for dep in config["dependencies"]:
        for target, event in dep["targets"]:
            if event == "click" and captions.get(target) and dep.get("api_name"):
                out.setdefault(captions[target], "/" + dep["api_name"])
    return out


def _starts(prefix: str, index: int = 1):
    def check(out) -> str | None:
        text = out[index] if isinstance(out, (tuple, list)) else out
        return None if isinstance(text, str) and text.startswith(prefix) else f"expected {prefix!r}, got {text!r}"[:300]

    return check


def _ends(suffix: str):
    def check(out) -> str | None:
        return None if isinstance(out, str) and out.endswith(suffix) else f"expected a {suffix} file, got {out!r}"[:300]

    return check


class User:
    def __init__(self, index: int, server: Server, stats: Stats, seed: int):
        from gradio_client import Client

        self.index, self.server, self.stats = index, server, stats
        self.rng = random.Random(seed)
        self.client = Client(server.url, verbose=False, download_files=str(server.downloads / str(index)),
                             analytics_enabled=False, httpx_kwargs={"timeout": CALL_TIMEOUT_S})
        self.api = _endpoints(self.client.config)
        self.rounds = 0
        self.calls: dict[str, int] = defaultdict(int)
        self.world_id: str | None = None
        self.t_created: float | None = None

    def call(self, action: str, api_name: str, args: tuple, check, timeout_s: float = CALL_TIMEOUT_S):
        """One event, timed; -> its outputs, or None when it failed (recorded as an error)."""
        got = {}

        def attempt() -> str | None:
            job = self.client.submit(*args, api_name=api_name)
            try:
                got["out"] = job.result(timeout=timeout_s)
            except BaseException:
                job.cancel()
                raise
            return check(got["out"])

        return got.get("out") if self._timed(action, attempt) is None else None

    def create(self) -> bool:
        boxes = {"headers": BOX_HEADERS, "data": BOXES, "metadata": None}
        out = self.call("create", "/generate", ("a bedroom", None, None, None, boxes, "room", True, "procedural", "draft",
                                                self.index),
                        _starts("world w", 0), CREATE_TIMEOUT_S)
        if out is None:
            return False
        self.world_id = out[0].split()[1]
        self.call("model", "/current_model", (), _ends(".splat"))  # what the page's .then() asks for next
        self.t_created = time.monotonic()
        return True

    def edit(self, action: str, button: str, args: tuple, expect: str) -> None:
        self.call(action, self.api[button], args, _starts(expect))

    def export(self) -> None:
        out = self.call("export", "/export", ("ply",), _starts(f"{self.world_id}.ply", 0))
        if out is None:
            return
        href = out[1].split('href="', 1)[1].split('"', 1)[0]
        self._timed("download", lambda: self._download(href))

    def _download(self, href: str) -> str | None:
        import httpx

        r = httpx.get(self.server.url + href, cookies=self.client.cookies, timeout=CALL_TIMEOUT_S)
        if r.status_code != 200 or not r.content.startswith(b"ply"):
            return f"HTTP {r.status_code}, {len(r.content)} bytes"
        return None

    def _timed(self, action: str, fn) -> str | None:
        """Run fn (-> None, or what was wrong) and record it; -> the problem, None when it went well."""
        t0 = time.perf_counter()
        try:
            problem = fn()
        except Exception as e:  # noqa: BLE001 - any failure of a call is what this benchmark counts
            problem = f"{type(e).__name__}: {e}"
        self.stats.record(self.index, action, time.perf_counter() - t0, problem)
        self.calls[action] += 1
        return problem

    def round(self) -> None:
        """One round of what a person does in the editor: every kind of call once."""
        for action, names in MOVES.items():
            self.call(action, self.api[self.rng.choice(names)], (False,), _starts("splats (server render)"))
        self.call("select", "/select", (PHRASES[self.rounds % len(PHRASES)], ""), _starts("selected "))
        self.edit("recolor", "Recolour", ("replace", "#%06x" % self.rng.randrange(1 << 24), 0), "recolor:")
        sign = 1 if self.rounds % 2 == 0 else -1  # back and forth: the objects stay in the room
        self.edit("move", "Move / rotate / scale", (0.2 * sign, 0.1 * sign, 0.0, 10.0 * sign, 1.0), "transform:")
        self.edit("undo", "Undo", (), "undo done")
        self.edit("redo", "Redo", (), "redo done")
        self.call("select_none", "/select", (NO_MATCH, ""), _starts("Error: nothing in the world matches"))
        self.export()
        self.rounds += 1

    def rounds_until(self, deadline: float, on_round=None) -> None:
        while True:
            self.round()
            if on_round is not None:
                on_round(self)
            if time.monotonic() >= deadline:
                return

    def run(self, deadline: float, on_round=None) -> None:
        try:
            if self.create():
                self.rounds_until(deadline, on_round)
        finally:
            self.client.close()


def _start_user(index: int, server: Server, stats: Stats) -> User | None:
    t0 = time.perf_counter()
    try:
        return User(index, server, stats, seed=index)
    except Exception as e:  # noqa: BLE001 - a session that cannot even connect is an error
        stats.record(index, "connect", time.perf_counter() - t0, f"{type(e).__name__}: {e}")
        return None


# ---- the phases -------------------------------------------------------------------------------------------------
def alone(server: Server, seconds: float) -> tuple[Stats, float | None]:
    """The reference: one user by itself, rounds for `seconds` after creating its world.
    -> (its stats, its calls per second)."""
    stats = Stats()
    user = _start_user(0, server, stats)
    if user is None:
        return stats, None
    try:
        if not user.create():
            return stats, None
        user.rounds_until(user.t_created + seconds)
    finally:
        user.client.close()
    return stats, stats.rate(user.t_created, time.monotonic())


def under_load(server: Server, users: int, deadline: float) -> tuple[Stats, list[User], float | None]:
    """`users` at once until `deadline`. -> (stats, the users, the time every user had finished a round)."""
    stats = Stats()
    warm = {"t": None}
    done_a_round: set[int] = set()
    guard = threading.Lock()

    def on_round(user: User) -> None:
        with guard:
            done_a_round.add(user.index)
            if len(done_a_round) == users and warm["t"] is None:
                warm["t"] = time.monotonic()

    started = [u for u in (_start_user(i + 1, server, stats) for i in range(users)) if u is not None]
    threads = [threading.Thread(target=u.run, args=(deadline, on_round), daemon=True) for u in started]
    for t in threads:
        t.start()
    give_up = deadline + CREATE_TIMEOUT_S + 20 * CALL_TIMEOUT_S  # a round is 13 calls, each with its own timeout
    for t in threads:
        t.join(timeout=max(0.0, give_up - time.monotonic()))
    if any(t.is_alive() for t in threads):
        stats.record(-1, "stuck", 0.0, "a user was still running long after the deadline")
    return stats, started, warm["t"]


def rss_figures(rss: RssSampler, t0: float, t_warm: float | None, deadline: float) -> dict:
    """Medians over 5 s windows (one sample is one moment of a busy server): just after warm-up and
    just before the deadline, while every user is still at work; and the trend between them."""
    out = {"rss_peak_mb": round(max((mb for _, mb in rss.samples), default=float("nan")), 1),
           "rss_warm_mb": None, "rss_end_mb": None, "rss_growth_percent": None}
    if t_warm is None:
        return out
    end_t = max(deadline, t_warm + 5)
    warm, end = rss.median_between(t_warm, t_warm + 5), rss.median_between(end_t - 5, end_t)
    out.update(warm_at_s=round(t_warm - t0, 1), rss_window_s=round(end_t - t_warm, 1), rss_warm_mb=round(warm, 1),
               rss_end_mb=round(end, 1), rss_growth_percent=round(100 * (end - warm) / warm, 2))
    trend = [(t, mb) for t, mb in rss.samples if t_warm <= t <= end_t]
    if len(trend) >= 10:
        slope = statistics.linear_regression([t for t, _ in trend], [mb for _, mb in trend]).slope
        out["rss_trend_mb_per_min"] = round(60 * slope, 2)
    return out


def run(users: int = 8, seconds: float = 300, alone_seconds: float = 30, world: dict | None = None) -> dict:
    """Both phases against one server; -> every figure (what main prints as its JSON line)."""
    with app_server(WORLD if world is None else world) as server:
        rss = RssSampler(server.pid).start()
        rss_idle = rss.rss_mb()
        ref, ref_rate = alone(server, alone_seconds) if alone_seconds > 0 else (Stats(), None)
        t0 = time.monotonic()
        load, started, t_warm = under_load(server, users, t0 + seconds)
        t_end = time.monotonic()
        rss.stop()
        tracebacks = server_tracebacks(server.log)
        cache_mb = sum(p.stat().st_size for p in server.cache.rglob("*") if p.is_file()) / 1e6
    figures = {"users": users, "seconds": seconds, "alone_seconds": alone_seconds, "load_wall_s": round(t_end - t0, 1),
               "calls_total": load.calls(), "rounds_total": sum(u.rounds for u in started),
               "errors": sum(load.errors.values()) + sum(ref.errors.values()), "server_tracebacks": len(tracebacks),
               "users_with_every_action": sum(all(u.calls.get(a, 0) > 0 for a in ACTIONS) for u in started),
               "rss_idle_mb": round(rss_idle, 1), **rss_figures(rss, t0, t_warm, t0 + seconds),
               "rss_mb_by_s": {f"{t - t0:.0f}": round(mb, 1) for t, mb in rss.samples[::5] if t >= t0},
               "gradio_cache_mb": round(cache_mb, 1)}
    figures.update(throughput(load, started, t0 + seconds, ref_rate))
    figures.update(action_figures(ref, load))
    figures["error_messages"] = (ref.messages + load.messages)[:20] + tracebacks[:5]
    return figures


def throughput(load: Stats, started: list[User], deadline: float, ref_rate: float | None) -> dict:
    """Calls per second under load, from the moment every world exists to the deadline, and alone."""
    created = [u.t_created for u in started]
    rate = load.rate(max(created), deadline) if created and None not in created else None
    out = {"throughput_calls_per_s": None if rate is None else round(rate, 3),
           "alone_calls_per_s": None if ref_rate is None else round(ref_rate, 3)}
    if rate and ref_rate:
        out["throughput_load_over_alone"] = round(rate / ref_rate, 3)
    return out


def action_figures(ref: Stats, load: Stats) -> dict:
    out = {}
    for action in (*ACTIONS, *FAILURES):
        s, r = load.summary(action), ref.summary(action)
        if not s["calls"] and not r["calls"]:
            continue
        out[f"{action}_calls"], out[f"{action}_errors"] = s["calls"], s["errors"] + r["errors"]
        for key in ("p50_s", "p95_s", "max_s"):
            if key in s:
                out[f"{action}_{key}"] = round(s[key], 4)
        if "p95_s" in r:
            out[f"{action}_alone_p95_s"] = round(r["p95_s"], 4)
            if "p95_s" in s:
                out[f"{action}_p95_load_over_alone"] = round(s["p95_s"] / max(r["p95_s"], 1e-9), 2)
    return out


# ---- report ---------------------------------------------------------------------------------------------------
def report(f: dict) -> list[str]:
    """Print the figures; -> the reasons the run failed (none: it passed)."""
    print(f"machine: {describe()}")
    print(f"{f['users']} users for {f['seconds']:.0f} s (wall {f['load_wall_s']} s), reference: 1 user alone for "
          f"{f['alone_seconds']:.0f} s; {f['calls_total']} calls under load, {f['rounds_total']} rounds")
    print(f"{'action':<12} {'calls':>6} {'errors':>6} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'alone p95':>10} "
          f"{'p95 load/alone':>15}")
    for a in (*ACTIONS, *FAILURES):
        if f"{a}_calls" not in f:
            continue
        cells = [f.get(f"{a}_{k}") for k in ("p50_s", "p95_s", "max_s", "alone_p95_s", "p95_load_over_alone")]
        shown = ["-" if v is None else f"{v:.3f}" for v in cells]
        print(f"{a:<12} {f[f'{a}_calls']:>6} {f[f'{a}_errors']:>6} {shown[0]:>8} {shown[1]:>8} {shown[2]:>8} "
              f"{shown[3]:>10} {shown[4]:>15}")
    if "throughput_load_over_alone" in f:
        print(f"throughput: {f['throughput_calls_per_s']} calls/s under load, {f['alone_calls_per_s']} alone "
              f"(load / alone {f['throughput_load_over_alone']})")
    print(f"server RSS: idle {f['rss_idle_mb']} MB; after warm-up (at {f.get('warm_at_s')} s) {f['rss_warm_mb']} MB, "
          f"{f.get('rss_window_s')} s later {f['rss_end_mb']} MB: growth {f['rss_growth_percent']}%, trend "
          f"{f.get('rss_trend_mb_per_min')} MB/min; peak {f['rss_peak_mb']} MB")
    print(f"gradio's file cache (GRADIO_TEMP_DIR) at the end: {f['gradio_cache_mb']} MB on disk")
    for m in f["error_messages"]:
        print(f"  error: {m}")
    return failures(f)


def failures(f: dict) -> list[str]:
    why = []
    if f["errors"]:
        why.append(f"{f['errors']} calls failed")
    if f["server_tracebacks"]:
        why.append(f"the server logged {f['server_tracebacks']} tracebacks")
    if f["rss_growth_percent"] is None:
        why.append("no RSS after warm-up: not every user finished a round")
    elif f["rss_growth_percent"] >= RSS_GROWTH_LIMIT:
        why.append(f"server RSS grew {f['rss_growth_percent']}% (limit {RSS_GROWTH_LIMIT:.0f}%)")
    if f["users_with_every_action"] < f["users"]:
        why.append(f"only {f['users_with_every_action']} of {f['users']} users made every kind of call")
    return why


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--alone-seconds", type=float, default=30)
    args = ap.parse_args()
    if not 1 <= args.users <= 64 or not 0 < args.seconds <= 3600 or not 0 <= args.alone_seconds <= 600:
        ap.error("--users in [1, 64], --seconds in (0, 3600], --alone-seconds in [0, 600]")
    figures = run(args.users, args.seconds, args.alone_seconds)
    why = report(figures)
    for reason in why:
        print(f"FAILED: {reason}")
    figures["machine"] = describe()
    print(json.dumps(figures))
    return 1 if why else 0


if __name__ == "__main__":
    sys.exit(main())
