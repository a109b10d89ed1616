"""Helpers for the reminder tests: a real SMTP server on loopback, sweep rounds
at chosen moments, and cases opened through the spine's services."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.test import override_settings

from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind, Source
from tidsnok.notify.sweep import run_round

from tests.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def sweep_at(day: date, hour: int = 9, worker: str = "test"):
    """One sweep round at `hour` o'clock, Oslo time, on `day`."""
    with time_machine.travel(at(day, hour), tick=False):
        return run_round(worker)


def open_case(world, actor="marte", *, known_at: date, kind=Kind.PSYCHOSOCIAL, concerns=None, parties=(),
              description="Emil sier han ikke rekker arbeidsoppgavene og sover dårlig.", factors=("workload",)):
    """Open a case as `actor` on the day it became known (time travels there)."""
    with time_machine.travel(at(known_at, 8), tick=False):
        return case_services.open_case(
            world.user(actor), kind=kind, concerns=concerns or [world.emil], parties=list(parties),
            factors=list(factors), description=description, source=Source.EMPLOYEE_TOLD, known_at=known_at,
        )


class Received:
    """What the SMTP server received: parsed messages with their envelope."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str):
        return [m for rcpts, m in self.messages if address in rcpts]

    def bodies(self, address: str | None = None) -> list[str]:
        found = self.messages if address is None else [(r, m) for r, m in self.messages if address in r]
        return [m.get_body(("plain",)).get_content() for _r, m in found]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1, and MAILERS pointed at it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received = Received()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    received.port = port
    received.url = f"smtp://127.0.0.1:{port}"
    mailers = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                           "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}}
    try:
        with override_settings(MAILERS=mailers):
            yield received
    finally:
        controller.stop()


def start_sweep(*args: str, env: dict | None = None) -> subprocess.Popen:
    """`tidsnok sweep ARGS` in another process, on the test database (committed data only)."""
    full_env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tests.notify.sweep_settings", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "tidsnok", "sweep", *args], cwd=ROOT, env=full_env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> bool:
    """Poll until `predicate()` is true (for processes, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
