"""The engine process behind the console: one ``flowqd run`` subprocess per platform, supervised by the server.

The server never runs the engine in its own process: a campaign is a ``flowqd run`` subprocess in its own
session (``start_new_session``), so stopping or restarting the server neither stops nor duplicates it. The
bookkeeping is a JSON file in the state folder (``engine.json``: pid, run id, who started it, its command line);
a new server reads it back and finds the engine still alive (``/proc`` or signal 0, and the command line checked,
so a recycled pid is not mistaken for it). Only one engine runs at a time per state folder; a start while one is
alive is refused (HTTP 409).

Control goes through the channels ``flowqd run`` already reads once per control period: the stop flag file
(emergency stop; also SIGTERM as a second path), the pause flag file, and SIGTERM (stop: the engine's signal
handler puts the platform in its safe state and records the stop).

:class:`EngineSlot` is the one interface the routes use; a store-side run lease (one engine per run, heartbeat)
can replace the file bookkeeping behind it without touching the routes.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flowqd.errors import FlowqdError

__all__ = ["EngineBusy", "EngineInfo", "EngineSlot"]


@dataclass
class EngineInfo:
    """One launched engine process."""

    pid: int
    started_at: float
    user: str
    campaign: str
    speed: float
    argv: list[str] = field(default_factory=list)
    run_id: int | None = None


class EngineSlot:
    """The one engine of a state folder: launch it, find it after a server restart, signal it.

    Parameters
    ----------
    state_dir : Path
        Folder of ``engine.json``, the flag files ``STOP`` and ``PAUSE``, uploaded campaigns and engine logs.
    db : str
        Database URL the engine writes to.
    """

    def __init__(self, state_dir: Path, db: str) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = db
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def stop_file(self) -> Path:
        return self.state_dir / "STOP"

    @property
    def pause_file(self) -> Path:
        return self.state_dir / "PAUSE"

    @property
    def _book(self) -> Path:
        return self.state_dir / "engine.json"

    # ------------------------------------------------------------------ bookkeeping
    def info(self) -> EngineInfo | None:
        """The last launched engine (alive or not), or ``None``."""
        try:
            data = json.loads(self._book.read_text())
            return EngineInfo(**data)
        except (OSError, ValueError, TypeError):
            return None

    def _save(self, info: EngineInfo) -> None:
        tmp = self._book.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(info)))
        tmp.replace(self._book)

    def set_run_id(self, run_id: int) -> None:
        info = self.info()
        if info is not None:
            info.run_id = run_id
            self._save(info)

    def alive(self) -> EngineInfo | None:
        """The engine if its process is still running (reaped here if it was our child and has ended)."""
        info = self.info()
        if info is None:
            return None
        if self._child is not None and self._child.pid == info.pid:
            return info if self._child.poll() is None else None
        return info if _process_is(info.pid, info.argv) else None

    # ------------------------------------------------------------------ actions
    def launch(self, campaign_path: Path, *, user: str, speed: float, platform_path: Path | None = None) -> EngineInfo:
        """Start ``flowqd run`` on ``campaign_path``; refused while an engine is alive or the stop flag is set.
        Two launches at once (two requests, two servers on one state folder) are serialised by a file lock, so
        the second sees the first engine and is refused."""
        with (self.state_dir / "engine.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._launch(campaign_path, user=user, speed=speed, platform_path=platform_path)

    def _launch(self, campaign_path: Path, *, user: str, speed: float, platform_path: Path | None) -> EngineInfo:
        running = self.alive()
        if running is not None:
            raise EngineBusy(f"an engine is already running (pid {running.pid}, run {running.run_id}, started by "
                             f"{running.user}); stop it first")
        if self.stop_file.exists():
            raise EngineBusy(f"the emergency stop flag {self.stop_file} is set; clear it first")
        self.pause_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "flowqd", "run", str(campaign_path), "--db", self.db, "--speed", repr(speed),
                "--stop-file", str(self.stop_file), "--pause-file", str(self.pause_file), "--quiet"]
        if platform_path is not None:
            argv += ["--platform", str(platform_path)]
        log = (self.state_dir / "engine.log").open("ab")
        try:
            self._child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True, cwd=self.state_dir)
        finally:
            log.close()
        info = EngineInfo(pid=self._child.pid, started_at=time.time(), user=user, campaign=str(campaign_path),
                          speed=speed, argv=argv)
        self._save(info)
        return info

    def exited(self) -> int | None:
        """Exit code of the engine this server launched, if it has ended (else ``None``)."""
        return None if self._child is None else self._child.poll()

    def log_tail(self, n_chars: int = 400) -> str:
        """The end of the engine log (for an engine that ended before creating its run)."""
        try:
            text = (self.state_dir / "engine.log").read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text[-n_chars:].split())

    def terminate(self) -> bool:
        """SIGTERM the running engine (it puts the platform in its safe state); False if none is running."""
        info = self.alive()
        if info is None:
            return False
        try:
            os.kill(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def set_pause(self, paused: bool) -> None:
        if paused:
            self.pause_file.write_text("paused from the console\n")
        else:
            self.pause_file.unlink(missing_ok=True)

    def emergency_stop(self, reason: str) -> bool:
        """Set the stop flag (read by every engine using it each control period) and SIGTERM the engine."""
        self.stop_file.write_text(reason + "\n")
        return self.terminate()

    def clear_stop(self) -> bool:
        existed = self.stop_file.exists()
        self.stop_file.unlink(missing_ok=True)
        return existed

    def wait(self, timeout_s: float) -> bool:
        """Wait for the running engine to end; True if it did within ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.alive() is None:
                return True
            time.sleep(0.05)
        return self.alive() is None

    def status(self) -> dict[str, Any]:
        """For the API: alive engine, paused flag, stop flag."""
        info = self.alive()
        return {"engine": None if info is None else {"pid": info.pid, "run_id": info.run_id, "user": info.user,
                                                     "speed": info.speed, "started_at": info.started_at},
                "paused": self.pause_file.exists(), "emergency_stop": self.stop_file.exists()}


class EngineBusy(FlowqdError):
    """An engine is running (or the stop flag is set): no second one is started."""


def _process_is(pid: int, argv: list[str]) -> bool:
    """Whether ``pid`` is alive and runs ``argv`` (a recycled pid is not our engine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            parts = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        if b"Z" in _proc_state(pid):
            return False
        return [p.decode(errors="replace") for p in parts if p][1:] == argv[1:]
    return True


def _proc_state(pid: int) -> bytes:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return stat.rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b""
