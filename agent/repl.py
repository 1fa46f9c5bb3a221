"""``nesy chat``: ask questions interactively and watch the steps as they happen.

Ctrl-C cancels the question being answered, not the session; Ctrl-D (or /quit) leaves.
Every question runs in its own checkpointed thread, so /threads lists them and
/resume ID finishes one that was interrupted.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from agent.display import show_answer, show_step

HELP = """\
commands:
  /mode [NAME]    show or set the mode: auto, pad, socratic, asp, spatial, prolog, deductive, direct
  /trace          the last answer's trace (the JSON training reads)
  /kb QUERY       search the knowledge base
  /reset          start a new conversation thread
  /save FILE      append the session's traces to FILE (JSONL)
  /threads        thread ids in the checkpoint file
  /resume ID      finish an interrupted thread from its last checkpoint
  /help           this text
  /quit           leave (or Ctrl-D)
anything else is a question."""


def _signals_on() -> Any:
    """For the length of a question: Python's own SIGINT handler (KeyboardInterrupt in this,
    the main, thread), whatever a library or the parent left installed; SIGINT unblocked
    (a process started from a job that blocks it inherits the mask, and its ^C would wait
    for ever); and a terminal that turns ^C into SIGINT (``ISIG``): the prompt reads keys in
    raw mode, where ^C is a plain byte that the next prompt would read after the answer
    instead of cancelling it. Returns what puts all three back."""
    handler, mask = None, None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def restore(attrs: Any = None, fd: int = -1) -> None:
        if attrs is not None:
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        if handler is not None:
            signal.signal(signal.SIGINT, handler)
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    try:
        import termios
    except ImportError:  # not a POSIX system
        return restore
    try:
        fd = sys.stdin.fileno()
        before = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):  # not a terminal
        return restore
    during = list(before)
    during[3] = before[3] | termios.ISIG
    termios.tcsetattr(fd, termios.TCSANOW, during)
    return lambda: restore(before, fd)


class Chat:
    def __init__(self, agent: Any, console: Any, history: Path | None = None) -> None:
        self.agent = agent
        self.console = console
        self.history = history
        self.traces: list[Any] = []
        self.thread_ids: list[str] = []
        self.last: Any = None

    # --- one question ------------------------------------------------------------------

    def ask(self, question: str) -> None:
        """Stream the steps; Ctrl-C stops the model's decode in flight and abandons the run
        before its next step."""
        events: list[dict[str, Any]] = []
        done = threading.Event()
        cancelled = threading.Event()
        error: list[BaseException] = []
        thread_id = uuid.uuid4().hex[:12]
        student: Any = getattr(self.agent, "student", None)
        if hasattr(student, "clear_interrupt"):
            student.clear_interrupt()

        def work() -> None:
            try:
                for event in self.agent.stream(question, thread_id=thread_id):
                    if cancelled.is_set():
                        return  # closing the generator stops the graph between nodes
                    events.append(event)
            except BaseException as exc:  # shown in the session, never a traceback
                error.append(exc)
            finally:
                done.set()

        restore = _signals_on()  # a ^C during the run is SIGINT, whatever mode the tty is in
        threading.Thread(target=work, daemon=True).start()
        shown = 0
        steps_before = getattr(student, "decode_steps", 0)
        decoding = False
        try:
            while not done.wait(0.05) or shown < len(events):
                if not decoding and getattr(student, "decode_steps", 0) > steps_before:
                    decoding = True  # the model's first token is out: Ctrl-C now stops it
                    self.console.print("[dim]decoding... (Ctrl-C cancels)[/]")
                while shown < len(events):
                    self._show(events[shown])
                    shown += 1
        except KeyboardInterrupt:
            cancelled.set()
            if hasattr(student, "interrupt"):
                student.interrupt()  # the decode in flight stops after its current token
            self.console.print("[yellow]cancelled[/]")
            return
        finally:
            restore()
        self.thread_ids.append(thread_id)
        if error:
            self.console.print(f"[red]error:[/] {error[0]}")

    def _show(self, event: dict[str, Any]) -> None:
        if event["node"] == "done":
            self.last = event["answer"]
            self.traces.append(self.last.trace)
            show_answer(self.console, self.last)
        else:
            show_step(self.console, event["node"], event["step"])

    # --- commands ------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a /command; return False to leave the session."""
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name in ("quit", "exit"):
            return False
        if name == "help":
            self.console.print(HELP)
        elif name == "mode":
            if arg:
                try:
                    config = dataclasses.replace(self.agent.config, mode=arg)
                    config.resolved_mode()
                except ValueError as exc:
                    self.console.print(f"[red]{exc}[/]")
                    return True
                self.agent.set_config(config)
            self.console.print(
                f"mode: {self.agent.config.mode} (runs as {self.agent.config.resolved_mode()})"
            )
        elif name == "trace":
            if self.last is None:
                self.console.print("no answer yet")
            else:
                self.console.print(
                    self.last.trace.model_dump_json(indent=2), markup=False, highlight=False
                )
        elif name == "kb":
            self._kb(arg)
        elif name == "reset":
            self.last = None
            self.console.print("new thread")
        elif name == "save":
            if not arg:
                self.console.print("usage: /save FILE")
            else:
                with open(Path(arg).expanduser(), "a") as f:
                    for trace in self.traces:
                        f.write(trace.to_jsonl() + "\n")
                self.console.print(f"saved {len(self.traces)} traces to {arg}")
        elif name == "threads":
            ids = self.agent.thread_ids() or self.thread_ids
            self.console.print("\n".join(ids) if ids else "no threads yet")
        elif name == "resume":
            self._resume(arg)
        else:
            self.console.print(f"unknown command /{name}; /help lists them")
        return True

    def _kb(self, query: str) -> None:
        if self.agent.kb is None:
            self.console.print("no KB loaded (start with --kb PATH)")
        elif not query:
            self.console.print("usage: /kb QUERY")
        else:
            for hit in self.agent.kb.search(query, mode="hybrid", k=5):
                self.console.print(
                    f"{hit.score:.4f}  {hit.item.kind:8s} {hit.item.content[:100]!r}"
                )

    def _resume(self, thread_id: str) -> None:
        if not thread_id:
            self.console.print("usage: /resume ID")
            return
        try:
            answer = self.agent.resume(thread_id)
        except Exception as exc:
            self.console.print(f"[red]cannot resume {thread_id}:[/] {exc}")
            return
        self.last = answer
        show_answer(self.console, answer)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        history: Any = InMemoryHistory()
        if self.history is not None:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(self.history))
        session: Any = PromptSession(history=history)
        self.console.print(
            f"nesy chat: {self.agent.student.name}, mode {self.agent.config.mode}."
            " /help for commands, Ctrl-D to leave."
        )
        while True:
            try:
                line = session.prompt(">>> ").strip()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                return 0
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return 0
                continue
            try:
                self.ask(line)
            except ValueError as exc:
                self.console.print(f"[red]{exc}[/]")
