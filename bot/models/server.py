"""A local OpenAI-compatible LLM server (llama.cpp through xllamacpp) in a child process.

``LocalLLMServer`` starts ``python -m bot.models.server`` (this module's ``main``), which loads the GGUF
with ``xllamacpp.Server`` (the llama.cpp HTTP server, OpenAI routes under ``/v1``) on 127.0.0.1 and a
free port. Running it in a child process means a crash or an out-of-memory kill of the model never
takes the app down, and stopping it frees all its memory.

    with LocalLLMServer(settings) as server:
        client = OpenAI(base_url=server.base_url, api_key=server.api_key)

The child is protected by a random API key handed over on stdin (so it is not visible in ``ps``),
exits when its parent disappears, and is stopped (terminate, then kill) by ``stop()``, by the context
manager and at interpreter exit. Its log lives in a temp dir while it runs (``log_path``).

Threads: prompt reading uses every CPU, token generation one less (see ``default_threads``).
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from settings import PROJECT_DIR

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

MODEL_ALIAS = "local"


class LLMServerError(RuntimeError):
    """The local server could not be started (missing runtime or model, crash while loading, timeout)."""


def cpu_threads() -> int:
    """CPUs this process may use (cgroup/affinity aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> tuple[int, int]:
    """(generation threads, prompt threads). Prompt reading is compute-bound and short: all CPUs.
    Token generation leaves one CPU free: llama.cpp's threads spin-wait on each other, and when another
    process (the app's embedder, the browser, a test run) takes a core, all-core generation collapses
    (measured on 2 cores, 0.5B: 22-35 tokens/s idle but 1-2 tokens/s with two busy processes, against
    13-19 and 7-17 with one thread)."""
    n = cpu_threads()
    return max(1, n - 1), n


def xllamacpp_available() -> bool:
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        return False
    return True


class LocalLLMServer:
    """Owns one child process serving one GGUF; use as a context manager or call ``start``/``stop``."""

    def __init__(
        self,
        settings: Settings,
        model_path: Path | None = None,
        *,
        context: int | None = None,
        threads: int | None = None,
        batch_threads: int | None = None,
        startup_timeout_s: float = 180.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self._model_path = Path(model_path) if model_path is not None else None
        self.context = context or settings.llm_context
        gen_threads, prompt_threads = default_threads()
        self.threads = threads or gen_threads
        self.batch_threads = batch_threads or max(prompt_threads, self.threads)
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.api_key = secrets.token_urlsafe(24)
        self.root_url: str | None = None  # http://127.0.0.1:PORT
        self.model_id = MODEL_ALIAS
        self.start_seconds: float | None = None  # spawn -> healthy, measured
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log_path: Path | None = None
        self._lock = threading.RLock()

    # --- public -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``)."""
        if self.root_url is None:
            raise LLMServerError("the local LLM server is not running")
        return f"{self.root_url}/v1"

    @property
    def model_path(self) -> Path:
        if self._model_path is None:
            from bot.models.install import model_file

            self._model_path = model_file(self.settings)  # may assemble the GGUF from its part packages
        return self._model_path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def start(self) -> LocalLLMServer:
        with self._lock:
            if self.running:
                return self
            if self._proc is not None:  # died (crash, OOM kill): reap it and forget its address
                log.warning(
                    "local LLM server exited with code %s; log tail:\n%s", self._proc.poll(), self.log_tail(1500)
                )
                self.stop()
            self.root_url = None
            self._cleanup_files()
            if not xllamacpp_available():
                raise LLMServerError(
                    "Chưa cài thư viện chạy mô hình cục bộ (xllamacpp). Hãy chạy: pip install -e '.[llm]'"
                )
            model = self.model_path.resolve()
            self._workdir = Path(tempfile.mkdtemp(prefix="cchc-llm-"))
            ready = self._workdir / "ready.json"
            self._log_path = self._workdir / "server.log"
            cmd = [
                sys.executable, "-m", "bot.models.server",
                "--model", str(model),
                "--ctx", str(self.context),
                "--threads", str(self.threads),
                "--batch-threads", str(self.batch_threads),
                "--ready-file", str(ready),
                "--parent-pid", str(os.getpid()),
            ]  # fmt: skip
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_DIR), env.get("PYTHONPATH")) if p)
            t0 = time.monotonic()
            with self._log_path.open("wb") as logfile:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches the app, which then stops the child
                )
            atexit.register(self.stop)
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write((self.api_key + "\n").encode())
                self._proc.stdin.close()
                self._wait_ready(ready, t0)
            except BaseException:
                self.stop()
                raise
            self.start_seconds = time.monotonic() - t0
            log.info(
                "local LLM %s ready at %s in %.1fs (pid %s)", model.name, self.root_url, self.start_seconds, self.pid
            )
            return self

    def stop(self) -> None:
        """Terminate the child (then kill it after ``stop_timeout_s``); safe to call twice."""
        with self._lock:
            proc, self._proc = self._proc, None
            self.root_url = None
            atexit.unregister(self.stop)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(self.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            self._cleanup_files()

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-chars:] if self._log_path else ""
        except OSError:
            return ""

    # --- internals ----------------------------------------------------------------
    def _wait_ready(self, ready: Path, t0: float) -> None:
        assert self._proc is not None
        deadline = t0 + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise LLMServerError(
                    f"Máy chủ mô hình cục bộ dừng khi đang khởi động (mã {code}).\n"
                    f"Local LLM server exited with code {code} while starting; log tail:\n{self.log_tail()}"
                )
            if self.root_url is None and ready.is_file():
                try:
                    self.root_url = json.loads(ready.read_text())["url"].rstrip("/")
                except (ValueError, KeyError):
                    pass  # half-written; retry
            if self.root_url is not None:
                try:
                    r = httpx.get(f"{self.root_url}/health", timeout=2.0)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise LLMServerError(
            f"Máy chủ mô hình cục bộ không sẵn sàng sau {self.startup_timeout_s:.0f} giây.\n"
            f"Local LLM server not healthy after {self.startup_timeout_s:.0f}s; log tail:\n{self.log_tail()}"
        )

    def _cleanup_files(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._log_path = None

    def __repr__(self) -> str:
        return f"LocalLLMServer(model={self._model_path}, url={self.root_url}, pid={self.pid})"


# --- the child process ------------------------------------------------------------------
class LLMServers:
    """The local model servers of one engine: one child process per model file, whatever the number of
    prompt versions or generators using it (each process loads the whole model: two would halve the cores)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._servers: dict[Path, LocalLLMServer] = {}
        self._lock = threading.Lock()

    def get(self, model_path: Path) -> LocalLLMServer:
        """The server for ``model_path`` (created, not started: the first request starts it)."""
        key = Path(model_path).resolve()
        with self._lock:
            if key not in self._servers:
                self._servers[key] = LocalLLMServer(self.settings, key, context=self.settings.llm_context)
            return self._servers[key]

    def adopt(self, server: LocalLLMServer) -> None:
        """Serve ``server``'s model file with that (already created) server."""
        with self._lock:
            self._servers[Path(server.model_path).resolve()] = server

    def running(self) -> list[LocalLLMServer]:
        with self._lock:
            return [s for s in self._servers.values() if s.running]

    def close(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


def serve(
    model: Path, ctx: int, threads: int, batch_threads: int, ready_file: Path, parent_pid: int, api_key: str
) -> int:
    """Load ``model`` with xllamacpp's built-in llama.cpp HTTP server and serve until told to stop."""
    import xllamacpp as xlc

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())

    params = xlc.CommonParams()
    params.model.path = str(model)
    params.model_alias = {MODEL_ALIAS}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # llama.cpp binds a free port; listening_address tells which
    params.n_ctx = ctx
    params.n_parallel = 1  # one request at a time, the whole context for it (2-core laptops)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = batch_threads
    params.ui = False
    params.cache_ram_mib = 512  # host-RAM prompt cache (default 8 GiB)
    params.sampling.temp = 0.0  # requests set their own; this is the default
    if api_key:
        params.api_keys = [api_key]

    server = xlc.Server(params)  # returns once the model is loaded and the HTTP server listens
    tmp = ready_file.with_name(ready_file.name + ".tmp")
    tmp.write_text(json.dumps({"url": server.listening_address, "pid": os.getpid()}))
    os.replace(tmp, ready_file)
    print(f"bot.models.server: serving {model.name} at {server.listening_address}", file=sys.stderr, flush=True)

    while not stop.wait(1.0):
        if os.getppid() != parent_pid:  # parent died (we were re-parented): do not linger
            print("bot.models.server: parent process gone, exiting", file=sys.stderr, flush=True)
            if ready_file.parent.name.startswith("cchc-llm-"):  # the parent's temp dir: nobody else cleans it
                shutil.rmtree(ready_file.parent, ignore_errors=True)
            break
    del server  # joins llama.cpp's loop and frees the model
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.models.server", description="(internal) run the local LLM server"
    )
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=default_threads()[0], help="generation threads")
    parser.add_argument("--batch-threads", type=int, default=default_threads()[1], help="prompt threads")
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, default=os.getppid())
    args = parser.parse_args(argv)
    api_key = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.readline().strip()
    return serve(args.model, args.ctx, args.threads, args.batch_threads, args.ready_file, args.parent_pid, api_key)


if __name__ == "__main__":
    sys.exit(main())
