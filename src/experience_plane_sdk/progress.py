"""The CLI's live displays, drawn by Rich on a terminal: upload bytes and execution states.

Off a terminal (a pipe, a file, a CI log) there is no animation and no control code: executions
are reported as one plain line per update, uploads not at all.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from experience_plane_sdk import render
from experience_plane_sdk.models import Execution
from experience_plane_sdk.uploads import UploadSource

BAR_WIDTH = 24


def _live(out: TextIO, *columns: ProgressColumn) -> Progress:
    # Nothing else is redirected: with `--json` stdout is the document, and it is not a terminal.
    return Progress(
        *columns,
        console=Console(file=out, highlight=False),
        redirect_stdout=False,
        redirect_stderr=False,
    )


class _CountingFile(io.FileIO):
    """A file whose reads report the position reached (a retry starts again from 0)."""

    def __init__(self, path: str, on_read: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self._on_read = on_read

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._on_read(self.tell())
        return data


class UploadProgress:
    """Bytes sent, speed and time left per uploaded file: a live bar on a terminal, else nothing."""

    def __init__(self, out: TextIO) -> None:
        self._progress = (
            _live(
                out,
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=BAR_WIDTH),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            if out.isatty()
            else None
        )

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def source(self, path: str) -> Iterator[UploadSource]:
        """What to upload for `path`: the path itself, or on a terminal a file that reports."""
        progress = self._progress
        if progress is None:
            yield path
            return
        task = progress.add_task(os.path.basename(path), total=None)
        try:
            stream = _CountingFile(path, lambda position: progress.update(task, completed=position))
        except OSError:
            # The SDK says what is wrong with the path (a usage error), as without a terminal.
            progress.remove_task(task)
            yield path
            return
        with stream:
            progress.update(task, total=os.fstat(stream.fileno()).st_size)
            yield stream


class ExecutionProgress:
    """Execution updates: one live Rich bar per execution on a terminal (several at once while
    waiting for several), one plain line per update otherwise, or nothing when disabled."""

    def __init__(self, out: TextIO, *, enabled: bool = True) -> None:
        self.out = out
        self.enabled = enabled
        self.tty = enabled and out.isatty()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, execution: Execution, label: str = "") -> None:
        if not self.enabled:
            return
        if not self.tty:
            prefix = f"{label}  " if label else ""
            self.out.write(prefix + render.status_line(execution) + "\n")
            self.out.flush()
            return
        if self._progress is None:
            self._progress = _live(
                self.out,
                TextColumn("{task.description}", markup=False),
                TextColumn("{task.fields[state]:<9}", markup=False),
                BarColumn(bar_width=BAR_WIDTH),
                TaskProgressColumn(),
                TextColumn("{task.fields[phase]}", markup=False),
            )
            self._progress.start()
        percent = execution.progress.percent if execution.progress else 0.0
        completed = 100.0 if execution.state.succeeded else max(0.0, min(100.0, percent))
        state = execution.state.value
        phase = execution.progress.phase if execution.progress else ""
        task = self._tasks.get(execution.id)
        if task is None:
            task = self._progress.add_task(
                label or execution.id, total=100.0, state=state, phase=phase
            )
            self._tasks[execution.id] = task
        self._progress.update(task, completed=completed, state=state, phase=phase)

    def done(self) -> None:
        """Stop the live display, leaving its last state, so that what follows starts below."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
