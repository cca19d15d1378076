"""A Redis master, its replica and one sentinel of the test's own, on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import redis

from smsq.cli.redis_server import free_port

MASTER_NAME = "smsq-store"
DOWN_AFTER_MS = 500  # how long the master may be silent before the sentinel calls it down


def _wait_ping(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis on port {port} did not start") from None
                time.sleep(0.02)
    finally:
        client.close()


class SentinelCluster:
    """Persistence as docker-compose runs Redis: AOF with appendfsync everysec, on both data nodes."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.ports = {"master": free_port(), "replica": free_port(), "sentinel": free_port()}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _data_node(self, name: str, *extra: str) -> None:
        folder = self.directory / name
        folder.mkdir(exist_ok=True)
        self.processes[name] = subprocess.Popen(
            [self.binary, "--port", str(self.ports[name]), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(folder),
             "--logfile", str(folder / "redis.log"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_ping(self.ports[name], self.processes[name])

    def start(self) -> None:
        self._data_node("master")
        self._data_node("replica", "--replicaof", "127.0.0.1", str(self.ports["master"]))
        replica = redis.Redis(port=self.ports["replica"])
        deadline = time.monotonic() + 10
        while replica.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not sync with the master")
            time.sleep(0.05)
        replica.close()
        folder = self.directory / "sentinel"
        folder.mkdir(exist_ok=True)
        config = folder / "sentinel.conf"  # the sentinel rewrites its own file: a fresh one each start
        config.write_text(
            f"port {self.ports['sentinel']}\nbind 127.0.0.1\ndir {folder}\n"
            f"logfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.ports['master']} 1\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
        )
        self.processes["sentinel"] = subprocess.Popen(
            [self.binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_ping(self.ports["sentinel"], self.processes["sentinel"])
        sentinel = redis.Redis(port=self.ports["sentinel"], decode_responses=True)
        deadline = time.monotonic() + 10
        while not sentinel.execute_command("SENTINEL", "REPLICAS", MASTER_NAME):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel did not discover the replica")
            time.sleep(0.05)
        sentinel.close()

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{MASTER_NAME}/0"

    def master_port(self) -> int:
        sentinel = redis.Redis(port=self.ports["sentinel"], decode_responses=True)
        try:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            return int(port)
        finally:
            sentinel.close()

    def kill_master(self) -> None:
        """SIGKILL the current master, as a crashed host dies."""
        port = self.master_port()
        name = next(name for name, p in self.ports.items() if p == port)
        self.processes[name].kill()
        self.processes[name].wait(timeout=10)

    def kill_master_watched(self) -> list[str]:
        """SIGKILL the current master mid-run, and return what it may have taken with it: the commands
        it executed after the last write the replica confirmed. Just before the kill a marker is
        written and ``WAIT 1`` returns once the replica has the master's stream up to that marker
        (everything before it, from every client); a MONITOR on the master lists, in execution order,
        what came after, until the kill ends the connection. Only those writes can be missing on the
        promoted replica (asynchronous replication); one before the marker is known to be there."""
        port = self.master_port()
        doomed = self.processes[next(name for name, p in self.ports.items() if p == port)]
        seen: list[str] = []
        listening = threading.Event()
        closed = threading.Event()  # the MONITOR ended with the kill, not on a line it could not read

        def watch() -> None:
            client = redis.Redis(port=port, decode_responses=True)
            try:
                with client.monitor() as monitor:
                    listening.set()
                    while True:
                        entry = monitor.next_command()
                        if entry is not None:
                            seen.append(entry["command"])
            except (redis.ConnectionError, OSError):
                closed.set()
            finally:
                listening.set()
                client.close()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        if not listening.wait(10):
            raise RuntimeError("MONITOR on the master did not start")
        marker = f"failover-marker-{uuid.uuid4().hex}"
        master = redis.Redis(port=port, decode_responses=True)
        try:
            master.set(marker, "1")
            acked = master.execute_command("WAIT", 1, 5000)
        finally:
            master.close()
        doomed.kill()  # at once: no round trip to the sentinel between the ack and the kill
        doomed.wait(timeout=10)
        watcher.join(timeout=10)
        if not closed.is_set():
            raise RuntimeError("the MONITOR of the master ended before the kill: its list is incomplete")
        if acked != 1:
            raise RuntimeError(f"the replica did not confirm the marker ({acked} replicas)")
        after = next((i for i, command in enumerate(seen) if command == f"SET {marker} 1"), None)
        if after is None:
            raise RuntimeError("MONITOR never showed the marker")
        # WAIT itself is in the list (it writes nothing): leave it out.
        return [command for command in seen[after + 1 :] if not command.startswith("WAIT ")]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
