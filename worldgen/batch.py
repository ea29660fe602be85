"""Batch generation: one world per line of a JOBS.jsonl file, locally (a process pool) or as Ray tasks.

A JOBS file holds one JSON object per line with the fields of `worldgen.generate` (the prompt, one
input of the frame sources: images, video, layout, pano; and any `GenerateConfig` field: effort,
frames_from, seed, frames, resolution, time_budget_s, lift_steps, ...) and a unique `id`; blank lines and lines starting with '#' are skipped. Relative paths in a job (images, video, a layout file) are relative to the
JOBS file's folder, so a JOBS file and its inputs move together.

On disk, OUT/<id>/ is each job's world (saved atomically by `World.save`) and OUT/manifest.jsonl
(OUT/manifest.shard-I-of-N.jsonl for a shard) gets one JSON line per job outcome:
{"id", "status": "done" | "failed" | "skipped", "error", "error_type", "seconds", "attempts",
"shard", "time"}. Each line is appended and fsynced on its own, so a run killed at any moment loses
at most the jobs in flight. Rerunning the same command resumes: a job whose world loads is skipped
(recorded "skipped"), every other job runs again, including the ones that failed before, whose new
outcome is appended; `final_status` reduces all manifest files to the last outcome per id.

Retries: an exception that is not a `WorldgenError` (a crash, out of memory, a full disk, a Ray
worker that died) is retried up to `retries` times. A `WorldgenError` means the job's own inputs are
bad (an unreadable image, a prompt the API refuses); the same inputs and seed fail the same way
again, so it is recorded as failed at once.

Shards: `shard=(i, n)` takes the jobs whose index in file order is i modulo n. Shards write disjoint
world folders and their own manifest file, so they can share one OUT (a shared filesystem) or be
merged later by copying folders."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from renderer.formats.base import open_regular, parse_json, writing

from .errors import WorldgenError

MAX_FILE_BYTES = 64 << 20
MAX_LINE_BYTES = 1 << 20
MAX_JOBS = 1_000_000
MAX_ID_CHARS = 100
MAX_ERROR_CHARS = 2000  # keeps every manifest line small; the full traceback of a bug is kept separately
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


def _job_fields() -> dict[str, tuple[type, ...]]:
    """JSON types each job field accepts (None means "the effort's default"): the id, the prompt, the
    frame sources' inputs (paths are strings; a layout may be inline) and GenerateConfig's fields."""
    import dataclasses

    from .config import GenerateConfig
    from .sources import inputs_of

    json_types = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "Path": (str,)}
    fields = {"id": (str,), "prompt": (str,)}
    fields.update({name: (str, list) if name == "images" else (str, dict) if name == "layout" else (str,)
                   for name in inputs_of()})
    for f in dataclasses.fields(GenerateConfig):
        if f.name not in ("explicit", "device"):  # the device is the batch's: --threads, Ray's resources
            fields[f.name] = json_types[str(f.type).split(" |")[0]]
    return fields


FIELDS = _job_fields()
PATH_FIELDS = tuple(name for name in FIELDS if name in ("images", "video", "layout", "pano", "frame_model"))


class BatchError(WorldgenError):
    """A JOBS file, a batch argument or an output folder that cannot be used."""


@dataclass(frozen=True)
class Job:
    id: str
    line: int  # 1-based line in the JOBS file, for messages
    index: int  # 0-based position among the jobs, for sharding
    kwargs: dict  # keyword arguments for worldgen.generate, paths made absolute


@dataclass
class BatchSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    total: int = 0
    seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)  # [{"id", "error"}]
    manifest: Path | None = None

    def to_dict(self) -> dict:
        return {"done": self.done, "failed": self.failed, "skipped": self.skipped, "total": self.total,
                "seconds": round(self.seconds, 3), "failures": self.failures}


def _check_id(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BatchError(f"{where}: \"id\" must be a non-empty string, got {value!r}")
    # A folder name that cannot escape OUT, is not hidden (temporary folders start with '.') and is
    # not a manifest file's name.
    if (len(value) > MAX_ID_CHARS or not ID_PATTERN.fullmatch(value) or value.startswith(".")
            or (value.startswith("manifest") and value.endswith(".jsonl"))):
        raise BatchError(f"{where}: id {value!r} is not a safe folder name (use at most {MAX_ID_CHARS} of "
                         "A-Z a-z 0-9 . _ -, not starting with '.')")
    return value


def _parse_job(obj, where: str, base: Path) -> tuple[str, dict]:
    if not isinstance(obj, dict):
        raise BatchError(f"{where}: a job must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise BatchError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (known: {', '.join(FIELDS)})")
    if "id" not in obj:
        raise BatchError(f"{where}: the job has no \"id\"")
    job_id = _check_id(obj["id"], where)
    kwargs = {}
    for key, value in obj.items():
        if key == "id" or value is None:
            continue
        # bool is an int in Python, not here
        ok = isinstance(value, FIELDS[key]) and (not isinstance(value, bool) or bool in FIELDS[key])
        if ok and key == "images" and isinstance(value, list):
            ok = bool(value) and all(isinstance(v, str) for v in value)
        if not ok:
            names = " or ".join({"str": "a string", "list": "a list of strings", "dict": "an object",
                                 "int": "an integer", "float": "a number", "bool": "true or false"}[t.__name__] for t in FIELDS[key])
            raise BatchError(f"{where}: \"{key}\" must be {names}, got {json.dumps(value)[:80]}")
        if key in PATH_FIELDS:
            value = _resolve(value, base)
        kwargs[key] = value
    return job_id, kwargs


def _resolve(value, base: Path):
    """Paths relative to the JOBS file's folder; an inline layout object stays as it is."""
    if isinstance(value, str):
        return str(base / os.path.expanduser(value))
    if isinstance(value, list):
        return [str(base / os.path.expanduser(v)) for v in value]
    return value


def read_jobs(path: str | os.PathLike) -> list[Job]:
    """Parse and validate a whole JOBS.jsonl file; raises BatchError naming the file and line."""
    path = Path(path)
    base = path.resolve().parent
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    total = 0
    with open_regular(path, BatchError) as f:  # a FIFO or a device is refused, not read
        for number in itertools.count(1):
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            where = f"{path}:{number}"
            total += len(raw)  # counted as read, not taken from stat
            if total > MAX_FILE_BYTES:
                raise BatchError(f"{path}: more than a jobs file may hold ({MAX_FILE_BYTES:,} bytes); split it")
            if len(raw) > MAX_LINE_BYTES:
                raise BatchError(f"{where}: line is longer than {MAX_LINE_BYTES:,} bytes")
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                raise BatchError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
            if not text or text.startswith("#"):
                continue
            obj = parse_json(text, where, BatchError)
            job_id, kwargs = _parse_job(obj, where, base)
            if job_id in seen:
                raise BatchError(f"{where}: duplicate id {job_id!r} (first on line {seen[job_id]})")
            seen[job_id] = number
            if len(jobs) == MAX_JOBS:
                raise BatchError(f"{where}: more than {MAX_JOBS} jobs; split the file (or use --shard)")
            jobs.append(Job(job_id, number, len(jobs), kwargs))
    if not jobs:
        raise BatchError(f"{path}: holds no jobs (one JSON object per line, each with an \"id\")")
    return jobs


# ---------------------------------------------------------------- the manifest

def manifest_name(shard: tuple[int, int]) -> str:
    i, n = shard
    return "manifest.jsonl" if n == 1 else f"manifest.shard-{i}-of-{n}.jsonl"


def append_record(path: Path, record: dict) -> None:
    """Append one JSON line and fsync it: a kill at any moment leaves whole lines (and at worst one
    torn last line, which `read_manifest` ignores and the next append starts after)."""
    line = json.dumps(record, sort_keys=True).encode() + b"\n"
    with writing(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            if os.fstat(fd).st_size:
                with open(path, "rb") as f:  # a torn last line from a killed run: start on a fresh line
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            os.write(fd, line)  # one write on an O_APPEND descriptor: lines from one writer never interleave
            os.fsync(fd)
        finally:
            os.close(fd)


def read_manifest(out: str | os.PathLike) -> list[dict]:
    """Every record of OUT/manifest.jsonl and OUT/manifest.shard-*-of-*.jsonl, oldest first."""
    records = []
    for k, path in enumerate(sorted(Path(out).glob("manifest*.jsonl"))):
        for j, line in enumerate(path.read_bytes().splitlines()):
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a line torn by a kill
            if isinstance(rec, dict) and isinstance(rec.get("id"), str) and "status" in rec:
                records.append((rec.get("time", 0.0), k, j, rec))
    return [rec for *_, rec in sorted(records, key=lambda r: r[:3])]


def final_status(out: str | os.PathLike) -> dict[str, dict]:
    """The last outcome per id across all manifest files. A "skipped" record (the world was found
    complete) does not hide the earlier "done" record that made the world."""
    final: dict[str, dict] = {}
    for rec in read_manifest(out):
        if rec["status"] == "skipped" and final.get(rec["id"], {}).get("status") == "done":
            continue
        final[rec["id"]] = rec
    return final


def outcome_view(out: str | os.PathLike) -> dict[str, tuple[str, str | None]]:
    """{id: (status, error_type)} with "skipped" read as "done" (a complete world either way): what two
    runs of the same jobs (another backend, a resumed run) must agree on."""
    return {i: ("done" if r["status"] == "skipped" else r["status"], r.get("error_type"))
            for i, r in final_status(out).items()}


# ---------------------------------------------------------------- one job

def world_is_complete(folder: Path) -> bool:
    if not (folder / "world.json").is_file():
        return False
    from .world import load_world

    try:
        load_world(folder)
    except WorldgenError:
        return False
    return True


def run_job(kwargs: dict, folder: str, threads: int, retries: int, overwrite: bool) -> dict:
    """Generate and save one world (top level, so process pools and Ray can ship it). Never raises
    for a failed job: returns {"status", "error", "error_type", "seconds", "attempts"}."""
    import torch

    import worldgen

    start, previous = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(threads)
    attempts, result = 0, {}
    try:
        while True:
            attempts += 1
            try:
                world = worldgen.generate(**kwargs, progress=False)
                world.save(folder, overwrite=overwrite)
                result = {"status": "done", "error": None, "error_type": None}
                break
            except Exception as e:  # noqa: BLE001 - one bad job never stops the batch; it is recorded
                result = {"status": "failed", "error": (str(e) or repr(e))[:MAX_ERROR_CHARS],
                          "error_type": type(e).__name__}
                if not isinstance(e, WorldgenError):  # a bug or a crash: keep where it happened
                    result["traceback"] = traceback.format_exc()[-4 * MAX_ERROR_CHARS:]
                if isinstance(e, WorldgenError) or attempts > retries:
                    break
    finally:
        torch.set_num_threads(previous)
    return {**result, "seconds": round(time.perf_counter() - start, 3), "attempts": attempts}


def _clean_temporaries(out: Path, job_id: str) -> None:
    """Remove what a killed run left of this job: World.save builds in '.<id>.XXXXXXXX' beside the
    folder (tempfile.mkdtemp), which no other id's temporaries can match."""
    pattern = re.compile(rf"\.{re.escape(job_id)}\.[a-z0-9_]{{8}}")
    for p in out.glob(f".{job_id}.*"):
        if pattern.fullmatch(p.name) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- the batch

def _progress_line(s: BatchSummary, remaining: int, busy: list[float], parallel: int, job_id: str, rec: dict) -> str:
    eta = ""
    if busy and remaining:
        left = sum(busy) / len(busy) * remaining / max(1, parallel)
        eta = f", ETA {int(left // 60)}m{int(left % 60):02d}s"
    what = rec["status"] + (f" ({rec['seconds']:.1f}s)" if rec["status"] != "skipped" else "")
    if rec["status"] == "failed":
        what += f": {rec['error_type']}: {rec['error'].splitlines()[0][:200] if rec['error'] else ''}"
    return (f"[{s.done + s.failed + s.skipped}/{s.total}] {job_id} {what} | done {s.done}, failed {s.failed}, "
            f"skipped {s.skipped}, remaining {remaining}{eta}")


def run_batch(jobs_path: str | os.PathLike, out: str | os.PathLike, *, shard: tuple[int, int] = (0, 1), workers: int = 1,
              backend: str = "local", address: str | None = None, retries: int = 1, overwrite: bool = False,
              progress: Callable[[str], None] | None = None) -> BatchSummary:
    """Run the shard's jobs of a JOBS.jsonl file into OUT (see the module docstring). Raises BatchError
    for a bad file or argument before anything is written; failed jobs are recorded, not raised."""
    i, n = shard
    if not (isinstance(n, int) and isinstance(i, int) and n >= 1 and 0 <= i < n):
        raise BatchError(f"shard {i}/{n}: needs 0 <= i < n")
    if workers < 1:
        raise BatchError(f"workers must be at least 1, got {workers}")
    if retries < 0:
        raise BatchError(f"retries must be 0 or more, got {retries}")
    if backend not in ("local", "ray"):
        raise BatchError(f"backend must be local or ray, got {backend!r}")
    if address is not None and backend != "ray":
        raise BatchError("an address is for the ray backend (--backend ray)")
    if backend == "ray":
        _import_ray()  # before anything is written
    jobs = [j for j in read_jobs(jobs_path) if j.index % n == i]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    manifest = out / manifest_name(shard)
    summary = BatchSummary(total=len(jobs), manifest=manifest)
    clock, busy = time.perf_counter(), []  # busy: seconds of each job that ran, for the ETA
    parallel = {"jobs": workers}  # jobs that run at once, for the ETA (a Ray cluster says how many)

    def record(job: Job, rec: dict) -> None:
        rec = {"id": job.id, "shard": f"{i}/{n}", "time": time.time(), **rec}
        append_record(manifest, rec)
        setattr(summary, rec["status"], getattr(summary, rec["status"]) + 1)
        if rec["status"] == "failed":
            summary.failures.append({"id": job.id, "error": f"{rec['error_type']}: {rec['error']}"})
        if rec["status"] != "skipped":
            busy.append(rec["seconds"])
        if progress:
            remaining = summary.total - summary.done - summary.failed - summary.skipped
            progress(_progress_line(summary, remaining, busy, parallel["jobs"], job.id, rec))

    todo = []
    for job in jobs:
        if not overwrite and world_is_complete(out / job.id):
            record(job, {"status": "skipped", "error": None, "error_type": None, "seconds": 0.0, "attempts": 0})
        else:
            _clean_temporaries(out, job.id)
            todo.append(job)
    if todo:
        if backend == "ray":
            _run_ray(todo, out, workers, address, retries, overwrite, record, parallel)
        else:
            _run_local(todo, out, workers, retries, overwrite, record)
    summary.seconds = time.perf_counter() - clock
    return summary


def _run_local(todo: list[Job], out: Path, workers: int, retries: int, overwrite: bool, record) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers == 1:  # in-process: no start-up cost, and a debugger or profiler sees the job
        for job in todo:
            record(job, run_job(job.kwargs, str(out / job.id), threads, retries, overwrite))
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(reversed(todo))
    while queue:
        # 'spawn': a fork of a process that has started torch's thread pools can deadlock.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:  # a few queued ahead, not a million futures
                    job = queue.pop()
                    running[pool.submit(run_job, job.kwargs, str(out / job.id), threads, retries, overwrite)] = job
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                try:
                    for fut in finished:
                        record(running[fut], fut.result())
                        del running[fut]
                except BrokenProcessPool:
                    # A worker died (killed, out of memory) and took every job in flight with it: they
                    # are recorded failed (a rerun retries them) and the rest go to a fresh pool.
                    for job in running.values():
                        record(job, {"status": "failed", "error": "the worker process died (killed or out of memory)",
                                     "error_type": "BrokenProcessPool", "seconds": 0.0, "attempts": 1})
                    running.clear()
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        import ray
    except ImportError:
        raise BatchError("the ray backend needs Ray: pip install 'worldgen[cluster]'") from None
    return ray


def _run_ray(todo: list[Job], out: Path, workers: int, address: str | None, retries: int, overwrite: bool, record,
             parallel: dict) -> None:
    """Jobs as Ray tasks on the cluster at `address`, or on a local Ray with `workers` CPUs; the
    results come back as they finish, and only this driver writes the manifest."""
    ray = _import_ray()
    started, temp_dir = False, None
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # A short folder of our own: Ray's socket paths must fit in 107 bytes.
                temp_dir = tempfile.mkdtemp(prefix="wgray", dir="/tmp" if os.path.isdir("/tmp") else None)
                ray.init(num_cpus=workers, include_dashboard=False, _temp_dir=temp_dir, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise BatchError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {e}") from None
        started = True
    try:
        cpus = parallel["jobs"] = max(1, int(ray.cluster_resources().get("CPU", workers)))
        # One CPU and one torch thread per task; Ray also reruns a task whose worker died (max_retries),
        # while exceptions are retried inside run_job.
        task = ray.remote(num_cpus=1, max_retries=retries)(run_job)
        queue, running = list(reversed(todo)), {}
        try:
            while queue or running:
                while queue and len(running) < 2 * cpus:
                    job = queue.pop()
                    running[task.remote(job.kwargs, str((out / job.id).resolve()), 1, retries, overwrite)] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        rec = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - a task Ray could not finish (worker lost)
                        rec = {"status": "failed", "error": str(e)[:MAX_ERROR_CHARS], "error_type": type(e).__name__,
                               "seconds": 0.0, "attempts": retries + 1}
                    record(job, rec)
        finally:
            for ref in running:
                ray.cancel(ref)
    finally:
        if started:
            ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
